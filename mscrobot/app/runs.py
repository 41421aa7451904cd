"""Run folders: create a run, find one, execute or resume it, answer its operator questions.

Each run is a folder ``<runs>/<id>/`` holding ``journal.sqlite`` (the record: recipe text, lab
config text, seed, every step), ``world.jsonl`` (simulated labs only: the physical world) and,
once written, ``report.html``. A run is resumed from its own journal, never from the recipe file,
so editing a recipe cannot change a run already started. A lock file keeps two processes from
executing one run.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import shlex
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mscrobot.app.feasibility import check_lab, lab_warnings
from mscrobot.app.labs import build_lab
from mscrobot.app.operator import terminal_operator
from mscrobot.engine.events import StopRequest
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.engine.runner import Engine, EngineError, Event, RunEnd, answer_flag
from mscrobot.engine.states import RunState
from mscrobot.lab.config import LabConfig, lab_from_text
from mscrobot.lab.protocols import DeviceError, Lab
from mscrobot.procedure.plan import STAGES, ExchangePlan, Plan
from mscrobot.recipe.loader import load_recipe_text
from mscrobot.recipe.models import Recipe
from mscrobot.yamldoc import DocumentError

DEFAULT_RUNS_DIR = Path("runs")


class RunError(Exception):
    """A run that cannot be started, found or resumed, said in one line for the user."""


class AlreadyAnsweredError(RunError):
    """Another operator answered the question first; ``answer`` is theirs."""

    def __init__(self, step: int, answer: str) -> None:
        super().__init__(f"step {step} was answered already ({answer_flag(answer)}); "
                         "that answer stands")
        self.answer = answer


class RunFolderError(RunError):
    """A run folder that could not be made (nothing of it is left); ``reason`` says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot create the run folder {path}: {reason} (free space there or "
                         "give another --out)")
        self.reason = reason


#: Errors of the storage under a run folder (not of a device): full, over quota, read-only.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def storage_problem(exc: BaseException) -> str | None:
    """What went wrong writing a run folder, if ``exc`` is such a failure (the journal is the
    only SQLite database a run writes), else None."""
    if isinstance(exc, sqlite3.Error):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        return exc.strerror or str(exc)
    return None


def resume_command(path: Path) -> str:
    """The command that resumes the run in ``path``: ``--out`` unless it is in ./runs."""
    parent = path.parent
    out = "" if parent.resolve() == DEFAULT_RUNS_DIR.resolve() \
        else f" --out {shlex.quote(str(parent))}"
    return f"mscrobot run --resume {shlex.quote(path.name)}{out}"


@dataclass
class RunInfo:
    id: str
    path: Path
    recipe: Recipe
    lab: LabConfig
    seed: int


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "run"


def create_run(recipe: Recipe, recipe_text: str, recipe_source: str, lab: LabConfig,
               lab_text: str, seed: int, runs_dir: Path) -> RunInfo:
    """Check the lab can do the recipe, then make the run folder and its journal."""
    problems = check_lab(lab, recipe)
    if problems:
        raise RunError(f"lab '{lab.name}' cannot run recipe '{recipe.name}': "
                       + "; ".join(problems))
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(recipe.name)}-{secrets.token_hex(2)}"
    path = runs_dir / run_id
    staging = runs_dir / f".new-{run_id}"  # renamed into place once the journal is whole
    try:
        staging.mkdir(parents=True)
        journal = Journal(staging / JOURNAL_NAME)
        try:
            journal.init({"id": run_id, "recipe_name": recipe.name, "recipe_text": recipe_text,
                          "recipe_source": recipe_source, "lab_name": lab.name,
                          "lab_text": lab_text, "seed": seed,
                          "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                          **record_of(recipe_text, recipe_source, lab)})
            journal.set_state(str(RunState.CREATED), 0.0, "")
        finally:
            journal.close()
        staging.rename(path)
    except (OSError, sqlite3.Error) as e:
        what = storage_problem(e) or (e.strerror if isinstance(e, OSError) else None) or str(e)
        shutil.rmtree(staging, ignore_errors=True)  # a run is whole or absent
        raise RunFolderError(path, what) from None
    return RunInfo(run_id, path, recipe, lab, seed)


def record_of(recipe_text: str, recipe_source: str,
              lab: LabConfig | None = None) -> dict[str, object]:
    """What the run's record keeps of the chemistry as it was checked at creation: the recipe
    check's warnings, the lab's (what it will not do of the recipe, such as a temperature
    without a probe) and what the run relies on beyond the paper (the report and the notebook
    entry show them; a later version's checks cannot rewrite them)."""
    from mscrobot.recipe.provenance import beyond_the_paper

    loaded = load_recipe_text(recipe_text, recipe_source)
    lab_notes = [] if lab is None else [f"lab: {w}" for w in lab_warnings(lab, loaded.recipe)]
    return {"warnings": [str(w) for w in loaded.warnings] + lab_notes,
            "beyond_the_paper": [r.as_dict() for r in beyond_the_paper(loaded.recipe)]}


def find_folder(ref: str, parent: Path, marker: str, kind: str) -> Path | None:
    """The folder holding ``marker`` that ``ref`` names: a path, a name in ``parent`` or a
    unique prefix of one (hidden folders never match a prefix; ``*`` or ``[`` in ``ref`` are
    characters of the name, not a pattern); None if none does."""
    for candidate in (Path(ref), parent / ref):
        if (candidate / marker).exists():
            return candidate
    matches = sorted(p for p in parent.iterdir() if p.name.startswith(ref)
                     and not p.name.startswith(".") and (p / marker).exists()) \
        if ref and parent.is_dir() and "/" not in ref else []
    if len(matches) > 1:
        raise RunError(f"'{ref}' matches {len(matches)} {kind}s in {parent}: "
                       + ", ".join(m.name for m in matches[:5]))
    return matches[0] if matches else None


def find_run(ref: str, runs_dir: Path) -> Path:
    """A run folder from an id, a unique id prefix, or a path."""
    found = find_folder(ref, runs_dir, JOURNAL_NAME, "run")
    if found is None:
        raise RunError(f"no run '{ref}' in {runs_dir}/ (see `mscrobot runs list`)")
    return found


def load_run(path: Path) -> RunInfo:
    """The run in ``path``, to be executed: its recipe and lab from its journal alone. A folder
    this process cannot write is refused first (a run goes on, and journals, in place)."""
    if not os.access(path, os.W_OK):
        raise RunError(f"run {path.name} cannot be resumed: its folder {path} is read-only; "
                       "make it writable, or copy the run folder to a writable place and "
                       "resume it there with --out")
    try:
        journal = Journal(path / JOURNAL_NAME)
        try:
            meta = journal.meta()
        finally:
            journal.close()
        recipe = load_recipe_text(meta["recipe_text"], meta["recipe_source"]).recipe
        lab = lab_from_text(meta["lab_text"])
    except (sqlite3.Error, KeyError) as e:
        raise RunError(f"the journal of run {path.name} cannot be read: {e}") from None
    except DocumentError as e:
        raise RunError(f"the journal of run {path.name} holds a recipe or lab that no longer "
                       f"loads: {e.problems[0]}") from None
    return RunInfo(meta["id"], path, recipe, lab, int(meta["seed"]))


def is_live(path: Path) -> bool:
    """Whether a process is executing the run in ``path`` now (it holds the run's lock).

    A journal that says 'running' with no live process is a run that was killed: resumable."""
    return _held(path / "lock", fcntl.LOCK_SH)


def _held(lock: Path, mode: int) -> bool:
    """Whether a live process holds ``lock`` so that ``mode`` cannot be had (a missing or
    unreadable file: nobody)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise RunError(f"cannot start run {path.name}: cannot write in {path}: "
                       f"{e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"run {path.name} is being executed by another process") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError as e:
            raise RunError(f"cannot start run {path.name}: cannot write in {path}: "
                           f"{e.strerror or e}") from None
        yield
    finally:
        os.close(fd)


@contextmanager
def _holding(info: RunInfo) -> Iterator[None]:
    """The run's devices for this process alone (``app.lablock``), or a one-line refusal."""
    from mscrobot.app.lablock import LabBusyError, hold_lab

    try:
        with hold_lab(info.lab, info.id, "run"):
            yield
    except LabBusyError as e:
        raise RunError(f"cannot start run {info.id}: {e}; resume with "
                       f"`{resume_command(info.path)}` once it is free") from None


def execute(info: RunInfo, on_event: Callable[[Event], None] | None = None,
            stop_requested: threading.Event | None = None,
            plan_for: Callable[[Plan, Lab], Plan] | None = None,
            until_stage: str | None = None) -> RunEnd:
    """Execute (or resume: the same thing) the run in ``info.path`` until it ends or stops.

    ``until_stage`` pauses the run at the end of that stage of the plan (``STAGES``): a caller
    that runs each stage as its own task (the Prefect flow) resumes it for the next.

    A completed run is replayed from its journal without touching the lab, so resuming twice
    is harmless (a scheduler retrying a resume finds the result). ``plan_for`` may wrap the
    plan once the lab is built (a campaign gates its steps on shared resources); the wrapped
    plan must yield the same steps, so the run resumes alone as well."""
    if until_stage is not None and until_stage not in STAGES:
        raise RunError(f"no stage '{until_stage}' to stop after (stages: {', '.join(STAGES)})")
    with _locked(info.path), _holding(info):
        journal, lab = None, None
        try:
            journal = Journal(info.path / JOURNAL_NAME)
            try:
                operator = (terminal_operator(stop_requested)
                            if info.lab.spectrometer.dark == "operator" else None)
                lab = build_lab(info.lab, info.recipe, info.seed, info.path,
                                operator=operator)
            except DeviceError as e:
                raise RunError(f"cannot start run {info.id}: lab '{info.lab.name}': {e} "
                               f"(nothing was done; resume with `{resume_command(info.path)}` "
                               "once the device answers)") from None
            plan: Plan = ExchangePlan(info.recipe)
            if plan_for is not None:
                plan = plan_for(plan, lab)
            stop = stop_requested if stop_requested is not None else StopRequest()
            engine = Engine(journal, lab, plan, info.id, on_event, stop, until_stage)
            try:
                with _stop_requests(info.path, stop):
                    end = engine.run()
                    # a question, while a browser view is attached: wait for its answer there
                    # and go on (the journal's replay, as a resume does), rather than exit
                    while (end.state == RunState.AWAITING_OPERATOR and end.pending
                           and plan_for is None and until_stage is None
                           and _answered_in_ui(info.path, journal, end, stop, on_event, lab)):
                        engine = Engine(journal, lab, ExchangePlan(info.recipe), info.id,
                                        on_event, stop, until_stage)
                        end = engine.run()
                    return end
            except EngineError as e:
                if not engine.replay_only:  # a reader's replay never changes a completed run
                    journal.set_state(str(RunState.FAILED), lab.clock.now(), str(e))
                raise RunError(str(e)) from None
        except (OSError, sqlite3.Error) as e:
            what = storage_problem(e)
            if what is None:
                raise
            fix = "free space there" if os.access(info.path, os.W_OK) else "make it writable"
            raise RunError(f"run {info.id} stopped: its folder {info.path} cannot be written "
                           f"({what}); {fix}, then resume with "
                           f"`{resume_command(info.path)}`") from None
        finally:
            if lab is not None:
                lab.close()
            if journal is not None:
                journal.close()


#: The file a browser view (``mscrobot ui``) holds a shared lock on in the runs folder it
#: serves, for as long as it serves it; the kernel drops the lock when it dies.
UI_LOCK = ".ui.lock"
#: How often a run waiting for an answer looks for it in its journal.
ANSWER_POLL_S = 0.2


@contextmanager
def ui_attached(runs_dir: Path) -> Iterator[None]:
    """Say, while inside, that a browser view serves ``runs_dir``: its runs that ask the
    operator wait for the answer instead of exiting (``execute``)."""
    fd = os.open(runs_dir / UI_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def is_ui_attached(runs_dir: Path) -> bool:
    """Whether a live ``mscrobot ui`` serves ``runs_dir`` now."""
    return _held(runs_dir / UI_LOCK, fcntl.LOCK_EX)


def _answered_in_ui(path: Path, journal: Journal, end: RunEnd, stop: threading.Event,
                    on_event: Callable[[Event], None] | None, lab: Lab) -> bool:
    """Wait, while a browser view is attached, for the answer to the run's question; True
    once it is journaled. False at once with no view (today's behaviour: the run exits and
    waits in its journal), or when the view goes away or a stop is asked for while waiting."""
    from mscrobot.engine.events import EventKind

    assert end.pending is not None
    step = end.pending["step"]
    if step is None or not is_ui_attached(path.parent):
        return False
    if on_event is not None:
        on_event(Event(EventKind.STATE, 0, lab_t=lab.clock.now(),
                       message="awaiting_operator: waiting for the answer in the browser "
                       "(mscrobot ui)"))
    while not stop.wait(ANSWER_POLL_S):
        if journal.operator_answer(step) is not None:
            return True
        if not is_ui_attached(path.parent):
            return False
    return False


#: How often a run in progress looks in its journal for a stop request (``request_stop``).
STOP_POLL_S = 0.2


@contextmanager
def _stop_requests(path: Path, stop: threading.Event) -> Iterator[None]:
    """While the run executes, a stop journaled by another process (the browser's stop
    button, ``request_stop``) sets ``stop``: the engine stops safely at its next step boundary,
    and a wait in real time within a second. Only requests made after the run started count."""
    reader = Journal(path / JOURNAL_NAME)
    seen = max((r["seq"] for r in reader.requests()), default=0)
    done = threading.Event()

    def watch() -> None:
        nonlocal seen
        while not done.wait(STOP_POLL_S):
            try:
                found = reader.requests(seen)
            except sqlite3.Error:
                continue  # busy for a moment: look again
            for r in found:
                seen = r["seq"]
                if r["kind"] in ("stop", "pause") and not stop.is_set():
                    by = f"from the browser by {r['who']}"
                    if isinstance(stop, StopRequest):
                        stop.request(by, pause=r["kind"] == "pause")
                    else:
                        stop.set()

    thread = threading.Thread(target=watch, name=f"stop-requests-{path.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        reader.close()


def request_stop(path: Path, who: str, pause: bool = False) -> int:
    """Journal a request (by ``who``) that the run executing in ``path`` stop safely at its
    next step boundary (``pause``: and be left ``paused``); the process executing it sees it
    within ``STOP_POLL_S``. A run nothing executes is refused."""
    if not is_live(path):
        raise RunError(f"run {path.name} is not executing: there is nothing to "
                       + ("pause" if pause else "stop"))
    journal = Journal(path / JOURNAL_NAME)
    try:
        return journal.request("pause" if pause else "stop", who)
    except sqlite3.Error as e:
        raise RunError(f"cannot record the stop request in {path}: {e}") from None
    finally:
        journal.close()


def resolve(path: Path, step: int, answer: str, note: str = "", who: str | None = None
            ) -> bool:
    """Record the operator's answer (and note) for a pending step; True if the run is waiting
    for it (resuming the run goes on from it). An answer the step does not take is refused,
    and nothing is recorded.

    With ``who`` (the browser), the answer is recorded only if none is there yet, journaled
    with who gave it: of two operators answering at once one wins and the other gets
    ``AlreadyAnsweredError``. Without it (``runs resolve``), a later answer replaces one not
    yet acted on."""
    journal = None
    try:
        journal = Journal(path / JOURNAL_NAME)
        state = journal.state()
        rec = journal.step(step)
        if rec is None or rec.status == "done":
            raise RunError(f"step {step} is not waiting for an answer"
                           + ("" if rec is None else " (it is done)"))
        if rec.kind == "ask_operator":
            choices = list(rec.params.get("choices") or ())
            refused = dict(rec.params.get("refused") or ())
            offered = ", ".join(answer_flag(c) for c in choices)
            if answer in refused:
                raise RunError(f"step {step} does not take {answer_flag(answer)} here: "
                               f"{refused[answer]}; answer {offered}")
            if answer not in choices:
                raise RunError(f"step {step} asks the operator ({rec.params.get('question')});"
                               f" answer {offered}")
        elif answer not in ("done", "not-done"):
            raise RunError(f"step {step} ({rec.kind}) was interrupted; answer --done if it "
                           "happened or --not-done if it did not")
        elif rec.idempotent:
            raise RunError(f"step {step} ({rec.kind}) is safe to repeat; just resume the run")
        recorded = "not_done" if answer == "not-done" else answer
        if who is None:
            journal.answer(step, recorded, note)
        elif not journal.answer_once(step, recorded, note, who):
            raise AlreadyAnsweredError(step, journal.operator_answer(step) or "")
        return state is not None and state[0] == RunState.AWAITING_OPERATOR
    except sqlite3.Error as e:
        fix = "free space there" if os.access(path, os.W_OK) else "make it writable"
        raise RunError(f"cannot record the answer in {path}: {e}; {fix}") from None
    finally:
        if journal is not None:
            journal.close()
