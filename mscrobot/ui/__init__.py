"""``mscrobot ui``: a live operator view of runs in the browser (presentation, like the CLI).

``feed`` reads what a page shows from the runs' journals; ``server`` is the web app (FastAPI on
uvicorn) with its pages and scripts in ``static/`` (no CDN: it works with no network). It writes
only what ``mscrobot runs resolve`` writes and stop requests, through ``mscrobot.app.runs``.
Nothing here is imported by the core or by the recipe tools.
"""
