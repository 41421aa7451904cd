"""mscrobot: robotic biphasic ligand exchange of semiconductor magic-size clusters.

Architecture, from the inside out (``tests/test_architecture.py`` enforces the arrows):

- **Pure core** — ``recipe`` (what a chemist writes, checked), ``chemistry`` (source-tagged
  facts), ``spectra`` (counts → bands and flags), ``decide`` (verdicts), ``twin`` (the simulated
  vial and instrument) and ``procedure`` (a recipe as a plan: a generator that yields typed
  steps and receives their outcomes). No files, devices or clocks.
- **Engine** (``engine``) — executes a plan's steps on a ``Lab`` of small device Protocols
  (``lab.protocols``), journaling each step to SQLite so a run resumes after a crash. It knows
  the Protocols, never which backend stands behind them.
- **Lab backends** (``lab``) — simulated, emulated over real byte streams, and real devices,
  each implementing a Protocol; they use ``storage`` for durable logs and never drive the engine.
- **Composition** (``app``, ``campaign``) — builds a lab from its config, checks a recipe
  against it, creates and resumes run folders, runs dry runs and campaigns.
- **Presentation** (``cli``, ``report``; Prefect ``flows`` outside the package) — parse, call
  the composition layer, print or render. Heavy libraries (opentrons, prefect, matplotlib,
  seabreeze) are imported where they are used, so the recipe tools start fast.
"""

__version__ = "0.1.0"
