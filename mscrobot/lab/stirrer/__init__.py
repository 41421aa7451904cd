"""IKA magnetic stirrers over NAMUR (DESIGN.md §5): driver, device profiles and an emulator.

Nothing here imports pyserial at module import time; the driver and the emulator load it when a
port is opened, so recipe commands stay light (tests/test_import_cost.py).
"""
