"""Digital twin: a vial's chemistry over time, what a sample puts in the flow cell, and what
the spectrometer reads from it. Pure: time comes from the caller, randomness from seeds."""
