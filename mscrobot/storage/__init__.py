"""Durable writes that both the engine and the lab backends use: append-only event logs that
outlive a killed process (``eventlog``) and the crash points around every durable write that
the crash matrix kills runs at (``crashpoints``)."""
