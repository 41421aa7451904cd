"""``python -m mscrobot.cli``: the same as the ``mscrobot`` command."""

from mscrobot.cli.app import main

main()
