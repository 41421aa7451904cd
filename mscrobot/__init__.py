"""mscrobot: robotic biphasic ligand exchange of semiconductor magic-size clusters."""

__version__ = "0.1.0"
