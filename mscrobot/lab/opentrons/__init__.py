"""The Opentrons liquid handler: protocol-engine commands, the backends that run them, the deck.

``labware`` (JSON files), ``commands`` (builders; Opentrons' models load at the first
``validate``), ``backend`` and ``robot_process`` are light; every other module here imports
``opentrons`` and is imported only when a lab names ``backend: opentrons``, so the core never
pays for it.
"""
