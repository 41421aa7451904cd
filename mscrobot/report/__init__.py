"""What a run did, for people and for other programs: summary, HTML report, data export.

Everything here only reads a run's journal, so it works on runs that are finished, failed,
stopped, waiting for the operator or still running. Submodules are imported on use: the report
pulls in matplotlib, which the CLI must not pay for on every command.
"""
