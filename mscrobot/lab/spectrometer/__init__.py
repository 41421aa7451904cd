"""Ocean Insight spectrometers: the seabreeze-based driver and an Ocean HDX emulator (OBP/TCP).

Nothing here imports seabreeze at package import: the driver module does, when it is used.
"""
