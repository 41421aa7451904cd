"""Lab configs shipped inside the package (the default simulated lab)."""

#: The lab a run uses when none is named (here, not in ``config``: ``mscrobot run`` reads it
#: before it imports the config models).
DEFAULT_LAB = "simulated"
