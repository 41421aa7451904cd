"""A real run on the twin lab, slowed to real time for a browser to watch: the engine executes
every step as usual, and the watcher it is given sleeps after each event (the twin's virtual
clock would finish the whole run in half a second).

``python -m tests.ui.paced OUT RECIPE SECONDS_PER_EVENT [NAME]``: creates the run, prints its id,
waits for a line on stdin (the watcher is ready), then executes it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mscrobot.app.runs import execute
from tests.ui.runs import new_run


def main() -> None:
    out, recipe, delay = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    name = sys.argv[4] if len(sys.argv) > 4 else None
    info = new_run(out, recipe, name)
    print(info.id, flush=True)
    sys.stdin.readline()
    end = execute(info, lambda event: time.sleep(delay))
    print(end.state, flush=True)


if __name__ == "__main__":
    main()
