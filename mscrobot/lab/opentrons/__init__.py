"""The Opentrons liquid handler: protocol-engine commands, the backends that run them, the deck.

Only ``labware`` is light (JSON files); every other module here imports ``opentrons`` and is
imported only when a lab names ``backend: opentrons``, so the core never pays for it.
"""
