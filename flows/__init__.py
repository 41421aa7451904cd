"""Prefect flows that wrap the mscrobot engine (campaign issue). Prefect is imported only here."""
