"""The web app of ``mscrobot ui``: pages, a JSON API, server-sent events, and two actions.

It reads runs from their journals (``ui.feed``) and writes only what the command line writes:
an operator's answer (``app.runs.resolve``, the same code as ``mscrobot runs resolve``, here
answered once: of two browsers answering at once one wins, the other gets 409) and a stop
request (``app.runs.request_stop``, which the process executing the run sees within 0.2 s).
Both are journaled with who asked and when.

Security: the token (``Guard``) is required on every request when the server listens beyond
the loopback interface (the URL printed at start carries it once; a cookie keeps it), and on
every state-changing request always: those are POSTs carrying it in the ``X-Mscrobot-Token``
header, refused when the browser says they come from another origin. Requests naming another
host in ``Host`` are refused (DNS rebinding). The pages build every piece of run and recipe
text as DOM text, never as HTML.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from mscrobot.ui.feed import (
    Fingerprint,
    SpectraFeed,
    campaign_dirs,
    campaign_fingerprint,
    campaign_row,
    campaign_state,
    fingerprint,
    run_dirs,
    run_row,
    run_state,
)

STATIC = Path(__file__).parent / "static"
TOKEN_HEADER = "x-mscrobot-token"
COOKIE = "mscrobot_token"
#: How often an event stream looks at the journal (the page follows within this, plus a read).
POLL_S = 0.05
#: How often the runs page's stream looks at the runs folder.
LIST_POLL_S = 0.5
#: An idle stream says it is alive this often (proxies and browsers drop silent ones).
KEEPALIVE_S = 15.0
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """Who may see and who may act: the token, and whether seeing needs it."""

    token: str
    required_to_read: bool
    allowed_hosts: frozenset[str]

    def matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())


@dataclass
class _Cache:
    """What was derived from each run's journal, by the fingerprint it was derived at."""

    states: dict[str, tuple[Fingerprint, dict[str, Any]]] = field(default_factory=dict)
    rows: dict[str, tuple[Fingerprint, dict[str, Any]]] = field(default_factory=dict)
    spectra: dict[str, SpectraFeed] = field(default_factory=dict)


def create_app(runs_dir: Path, guard: Guard) -> FastAPI:
    """The app serving the runs in ``runs_dir``."""
    app = FastAPI(title="mscrobot ui", docs_url=None, redoc_url=None, openapi_url=None)
    cache = _Cache()
    page_text = {
        name: (STATIC / name).read_text(encoding="utf-8")
        for name in ("runs.html", "run.html", "recipe.html", "compare.html", "campaign.html")
    }

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if guard.allowed_hosts and host not in guard.allowed_hosts:
            return JSONResponse(
                {"error": f"this server does not answer for host '{host}'"}, status_code=421
            )
        given = (
            request.headers.get(TOKEN_HEADER)
            or request.cookies.get(COOKIE)
            or request.query_params.get("token")
        )
        if request.method not in ("GET", "HEAD"):
            if request.headers.get("sec-fetch-site") not in (
                None,
                "same-origin",
                "none",
            ) or not _same_origin(request):
                return JSONResponse(
                    {"error": "refused: a request from another site"}, status_code=403
                )
            if not guard.matches(request.headers.get(TOKEN_HEADER)):
                return JSONResponse(
                    {"error": f"refused: the {TOKEN_HEADER} header is missing or wrong"},
                    status_code=403,
                )
        elif guard.required_to_read and not guard.matches(given):
            return JSONResponse(
                {"error": "a token is required: open the URL `mscrobot ui` printed"},
                status_code=401,
            )
        if (
            request.method == "GET"
            and request.query_params.get("token")
            and guard.matches(request.query_params.get("token"))
        ):
            # the printed URL: keep the token in a cookie, and out of the address bar
            response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
            response.set_cookie(COOKIE, guard.token, httponly=True, samesite="strict")
            return response
        return await call_next(request)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(name: str) -> HTMLResponse:
        # the token goes in a meta tag for the page's POSTs; another origin cannot read it
        html = page_text[name].replace("{{token}}", guard.token)
        return HTMLResponse(
            html,
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": _CSP,
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    async def runs_page() -> HTMLResponse:
        return page("runs.html")

    @app.get("/run/{run_id}", include_in_schema=False)
    async def run_page(run_id: str) -> HTMLResponse:
        _run_dir(runs_dir, run_id)
        return page("run.html")

    def rows() -> list[dict[str, Any]]:
        out = []
        for path in run_dirs(runs_dir):
            fp = fingerprint(path)
            hit = cache.rows.get(path.name)
            if hit is None or hit[0] != fp:
                hit = (fp, run_row(path))
                cache.rows[path.name] = hit
            out.append(hit[1])
        return out

    def state(path: Path) -> tuple[Fingerprint, dict[str, Any]]:
        fp = fingerprint(path)
        hit = cache.states.get(path.name)
        if hit is None or hit[0] != fp:
            from mscrobot.report.data import UnreadableRunError

            try:
                hit = (fp, run_state(path))
            except UnreadableRunError as e:
                hit = (fp, {"error": str(e)})
            cache.states[path.name] = hit
            feed = cache.spectra.setdefault(path.name, SpectraFeed(path))
            try:
                feed.update()
            except (sqlite3.Error, ValueError, KeyError) as e:  # shown, not fatal
                hit[1]["spectra_error"] = f"{type(e).__name__}: {e}"
            if "summary" in hit[1]:
                hit[1]["summary"]["samples"] = sum(feed.counts.values())
        return hit

    def campaigns() -> list[dict[str, Any]]:
        return [campaign_row(p) for p in campaign_dirs(runs_dir)]

    def listing() -> dict[str, Any]:
        return {"runs": rows(), "campaigns": campaigns()}

    @app.get("/api/runs")
    async def api_runs() -> dict[str, Any]:
        return await run_in_threadpool(listing)

    @app.get("/campaign/{campaign_id}", include_in_schema=False)
    async def campaign_page(campaign_id: str) -> HTMLResponse:
        _campaign_dir(runs_dir, campaign_id)
        return page("campaign.html")

    @app.get("/api/campaigns/{campaign_id}")
    async def api_campaign(campaign_id: str) -> dict[str, Any]:
        return await run_in_threadpool(campaign_state, _campaign_dir(runs_dir, campaign_id))

    @app.get("/api/campaigns/{campaign_id}/events")
    async def api_campaign_events(campaign_id: str, request: Request) -> StreamingResponse:
        path = _campaign_dir(runs_dir, campaign_id)

        async def stream() -> AsyncIterator[str]:
            seen = None
            quiet = time.monotonic()
            while not await request.is_disconnected():
                fp = campaign_fingerprint(path)
                if fp != seen:
                    seen, quiet = fp, time.monotonic()
                    doc = await run_in_threadpool(campaign_state, path)
                    yield f"event: campaign\ndata: {json.dumps(doc)}\n\n"
                elif time.monotonic() - quiet > KEEPALIVE_S:
                    quiet = time.monotonic()
                    yield ": alive\n\n"
                await asyncio.sleep(LIST_POLL_S)

        return _sse(stream())

    @app.get("/api/runs/{run_id}")
    async def api_run(run_id: str) -> dict[str, Any]:
        path = _run_dir(runs_dir, run_id)
        _, doc = await run_in_threadpool(state, path)
        return {**doc, "spectra": cache.spectra[path.name].since(0)}

    @app.get("/api/events")
    async def api_runs_events(request: Request) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            last = None
            quiet = time.monotonic()
            while not await request.is_disconnected():
                text = json.dumps(await run_in_threadpool(listing))
                if text != last:
                    last, quiet = text, time.monotonic()
                    yield f"event: runs\ndata: {text}\n\n"
                elif time.monotonic() - quiet > KEEPALIVE_S:
                    quiet = time.monotonic()
                    yield ": alive\n\n"
                await asyncio.sleep(LIST_POLL_S)

        return _sse(stream())

    @app.get("/api/runs/{run_id}/events")
    async def api_run_events(run_id: str, request: Request) -> StreamingResponse:
        path = _run_dir(runs_dir, run_id)

        async def stream() -> AsyncIterator[str]:
            # a page that (re)connects is sent everything it shows, then each change
            seen: Fingerprint | None = None
            sent = 0
            quiet = time.monotonic()
            while not await request.is_disconnected():
                fp, doc = await run_in_threadpool(state, path)
                if fp != seen:
                    seen, quiet = fp, time.monotonic()
                    new = cache.spectra[path.name].since(sent)
                    if new:
                        sent = new[-1]["id"]
                    yield (f"event: run\ndata: {json.dumps({**doc, 'spectra': new})}\n\n")
                elif time.monotonic() - quiet > KEEPALIVE_S:
                    quiet = time.monotonic()
                    yield ": alive\n\n"
                await asyncio.sleep(POLL_S)

        return _sse(stream())

    @app.get("/compare", include_in_schema=False)
    async def compare_page() -> HTMLResponse:
        return page("compare.html")

    @app.get("/api/compare")
    async def api_compare(request: Request) -> dict[str, Any]:
        """Chosen runs side by side: fractions, latest spectrum of each phase, recipes' diff."""
        from mscrobot.report.data import read_run
        from mscrobot.ui.feed import recipe_differences

        ids = request.query_params.getlist("run")[:8]
        out, texts = [], {}
        for rid in ids:
            path = _run_dir(runs_dir, rid)
            _, doc = await run_in_threadpool(state, path)
            if "summary" not in doc:
                continue
            latest: dict[str, Any] = {}
            for sp in cache.spectra[path.name].since(0):
                latest[str(sp["phase"])] = sp
            data = await run_in_threadpool(read_run, path, spectra=False)
            texts[rid] = str(data.meta.get("recipe_text", ""))
            out.append(
                {
                    "id": rid,
                    "recipe": doc["summary"]["recipe"]["name"],
                    "state": doc["summary"]["state"],
                    "fractions": doc["fractions"],
                    "threshold": doc["threshold"],
                    "latest": latest,
                }
            )
        return {"runs": out, "differences": recipe_differences(texts)}

    @app.get("/recipe", include_in_schema=False)
    async def recipe_page() -> HTMLResponse:
        return page("recipe.html")

    @app.get("/api/recipe/start")
    async def api_recipe_start(run: str | None = None) -> dict[str, Any]:
        """The text to start editing from: a run's recipe as journaled, or a new recipe."""
        from mscrobot.ui.editor import template

        if run is None:
            return {"text": await run_in_threadpool(template), "source": "new-recipe.yaml"}
        from mscrobot.report.data import read_run

        data = await run_in_threadpool(read_run, _run_dir(runs_dir, run), spectra=False)
        return {
            "text": data.meta.get("recipe_text", ""),
            "source": Path(str(data.meta.get("recipe_source") or f"{run}.yaml")).name,
        }

    @app.post("/api/recipe/check")
    async def api_recipe_check(request: Request) -> dict[str, Any]:
        """``recipe check`` of the editor's text (a POST: the text is the body)."""
        from mscrobot.ui.editor import check_text

        body = await _json(request)
        text, source = body.get("text"), body.get("source") or "<editor>"
        if not isinstance(text, str) or not isinstance(source, str):
            raise HTTPException(400, "give the recipe text")
        return await run_in_threadpool(check_text, text, Path(source).name)

    @app.post("/api/runs/{run_id}/answer")
    async def api_answer(run_id: str, request: Request) -> dict[str, Any]:
        from mscrobot.app.runs import AlreadyAnsweredError, RunError, resolve

        path = _run_dir(runs_dir, run_id)
        body = await _json(request)
        step, choice = body.get("step"), body.get("choice")
        if not isinstance(step, int) or not isinstance(choice, str):
            raise HTTPException(400, "give the step (a number) and the choice (a text)")
        who = _who(body, request)
        try:
            waiting = await run_in_threadpool(
                resolve, path, step, choice, f"answered from the browser by {who}", who
            )
        except AlreadyAnsweredError as e:
            raise HTTPException(409, str(e)) from None
        except RunError as e:
            raise HTTPException(409 if "not waiting" in str(e) else 400, str(e)) from None
        return {"recorded": True, "step": step, "choice": choice, "who": who, "waiting": waiting}

    @app.post("/api/runs/{run_id}/stop")
    async def api_stop(run_id: str, request: Request) -> dict[str, Any]:
        return await _stop(run_id, request, pause=False)

    @app.post("/api/runs/{run_id}/pause")
    async def api_pause(run_id: str, request: Request) -> dict[str, Any]:
        return await _stop(run_id, request, pause=True)

    async def _stop(run_id: str, request: Request, pause: bool) -> dict[str, Any]:
        from mscrobot.app.runs import RunError, request_stop

        path = _run_dir(runs_dir, run_id)
        who = _who(await _json(request), request)
        try:
            seq = await run_in_threadpool(request_stop, path, who, pause)
        except RunError as e:
            raise HTTPException(409, str(e)) from None
        return {"requested": "pause" if pause else "stop", "seq": seq, "who": who}

    return app


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _same_origin(request: Request) -> bool:
    """A POST whose ``Origin`` (when the browser sends one) is this server's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _run_dir(runs_dir: Path, run_id: str) -> Path:
    """The run ``run_id`` names: a run folder of ``runs_dir``, or ``CAMPAIGN~RUN`` for a run of
    a campaign folder in it (``CAMPAIGN/runs/RUN``)."""
    campaign, _, run = run_id.rpartition("~")
    if campaign and not _RUN_ID.match(campaign):
        raise HTTPException(404, f"no run '{run_id}' in {runs_dir}/")
    path = (runs_dir / campaign / "runs" / run) if campaign else runs_dir / run
    if not _RUN_ID.match(run) or not (path / "journal.sqlite").is_file():
        raise HTTPException(404, f"no run '{run_id}' in {runs_dir}/")
    return path


def _campaign_dir(runs_dir: Path, campaign_id: str) -> Path:
    path = runs_dir / campaign_id
    if not _RUN_ID.match(campaign_id) or not (path / "summary.json").is_file():
        raise HTTPException(404, f"no campaign '{campaign_id}' in {runs_dir}/")
    return path


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    return body


def _who(body: dict[str, Any], request: Request) -> str:
    """Who asked: the name typed in the page (if any) and the address it came from."""
    name = body.get("who")
    name = re.sub(r"[^\w .@-]", "", name)[:60].strip() if isinstance(name, str) else ""
    address = request.client.host if request.client else "?"
    return f"{name or 'an operator'} at {address}"


def _sse(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def loopback_hosts(host: str, port: int) -> frozenset[str]:
    """The names a browser on this machine may use for a server bound to a loopback address."""
    return frozenset({"127.0.0.1", "localhost", "::1", host.strip("[]").lower()})


def make_guard(host: str, token: str | None = None) -> Guard:
    """A guard for a server bound to ``host``: beyond the loopback every request needs the
    token (``token`` or a fresh one); on it, only the POSTs do."""
    import secrets

    loopback = is_loopback(host)
    return Guard(
        token or secrets.token_urlsafe(24),
        required_to_read=not loopback,
        allowed_hosts=loopback_hosts(host, 0) if loopback else frozenset(),
    )


def serve(runs_dir: Path, host: str, port: int, guard: Guard) -> None:
    """Serve until interrupted (uvicorn; imported here, so the CLI stays fast). While it
    serves, a run in ``runs_dir`` that asks the operator waits for the answer given here."""
    import socket

    import uvicorn

    from mscrobot.app.runs import ui_attached

    # bound here, so an address in use is an OSError the command says in one line
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        create_app(runs_dir, guard),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    with ui_attached(runs_dir):  # runs that ask wait for the answer here instead of exiting
        uvicorn.Server(config).run(sockets=[sock])
