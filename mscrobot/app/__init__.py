"""The composition layer: what a command puts together, as Opentrons' runner composes its engine.

``labs`` builds a lab's devices from its config; ``feasibility`` checks a recipe against a lab
before anything moves; ``runs`` creates, executes, resumes and answers run folders; ``dryrun``
runs a recipe in memory on the simulated lab (benchmarks, ``plan``); ``planview`` is what
``mscrobot plan`` shows; ``probe`` asks each instrument who it is; ``bench`` drives a simulated
lab step by step; ``protocol_export`` writes a recipe as a standalone Opentrons protocol.

Only this layer knows both the engine and the concrete labs: the engine executes steps on the
``Lab`` Protocols it is handed, and the lab's backends never drive the engine.
"""
