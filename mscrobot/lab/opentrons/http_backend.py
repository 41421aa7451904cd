"""A robot over its HTTP API (port 31950): a real OT-2 or Flex, or ``mscrobot emulate opentrons``.

One run per backend, created when it opens; each command is posted with ``intent: setup`` and
``waitUntilComplete``, so the run stays idle and a failed command fails only itself. Errors are
sorted by what they say about the command:

- the request never reached the robot (connection refused, the robot busy with another run
  when ours is made): ``TransientDeviceError`` — nothing was done;
- the connection broke after the command was sent: ``DeviceFaultError`` — it may have run, and
  only the robot's record (``status``) or the operator can say;
- the robot will take no more commands on our run: ``DeviceFaultError``. A robot has no
  owner: any client's ``POST /runs`` ends an idle run and makes its own current, and the
  robot then answers our commands 409 ``RunStopped`` ("… is not the current run"). That is
  another client at the robot, never a busy moment to wait out;
- the robot answered: the command as it recorded it, failed or not (``CommandResult``).

Tips go into the trash the robot's deck configuration has (``GET /deck_configuration``: a
Flex's bin may stand in any corner slot, or be a waste chute). The robot lists a run's commands
as summaries, without results: a result is read by the command's id
(``GET /runs/{id}/commands/{commandId}``), and which pipette is on which mount from the run's
``pipettes``. A command still running when ``waitUntilComplete`` times out is polled until
``timeout_s``. A stop finishes after its answer (the run reads
``stop-requested``), so a run is let go only once it reads stopped.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from mscrobot.lab.opentrons.backend import (
    BAD_DECK_CALIBRATION,
    DEFAULT_TRASH,
    ROBOT_TYPES,
    CommandResult,
    calibration_summary,
    pipette_mounts,
    result_from_json,
    tips_left,
    trash_area,
)
from mscrobot.lab.opentrons.commands import Command, InvalidCommandError, validate
from mscrobot.lab.opentrons.versions import UnknownSoftwareError, commands_of
from mscrobot.lab.protocols import DeviceFaultError, TransientDeviceError

#: The robot server's HTTP API version mscrobot was written against (a newer robot answers in
#: it: the server uses min(asked, its own)). Every route needs it, ``/health`` included.
API_VERSION = "4"
POLL_S = 0.2
#: Commands per page when reading a run's record (the robot pages at any length).
PAGE_LENGTH = 200
#: Longest wait for a stop to finish before a run is let go (a robot halts and cleans up).
STOP_S = 30.0
TERMINAL = frozenset({"stopped", "failed", "succeeded"})


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('id', '')}: {e.get('detail') or e.get('title', '')}"
                         for e in errors) or response.text[:200]
    except ValueError:
        return response.text[:200]


def _error(response: httpx.Response) -> dict[str, Any]:
    """The first error of an error answer (``{}`` if it has none)."""
    try:
        errors = response.json().get("errors") or [{}]
    except (ValueError, AttributeError):
        return {}
    return errors[0] if isinstance(errors[0], dict) else {}


class HttpBackend:
    def __init__(self, url: str, robot: str = "OT-2", timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None,
                 previous_runs: tuple[str, ...] = (),
                 offsets: list[dict[str, Any]] | None = None) -> None:
        """``previous_runs``: runs this lab's earlier processes created; one still current
        (its process died) is stopped and let go, so the robot takes a new run. A current
        run of another client that has not ended is left alone: the robot is busy.
        ``offsets``: labware offsets (``definitionUri``, ``location``, ``vector``) the run is
        created with; the robot applies each to the labware later loaded there."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.robot_type = ROBOT_TYPES[robot]
        self._client = httpx.Client(base_url=self.url, headers={"Opentrons-Version": API_VERSION},
                                    timeout=httpx.Timeout(timeout_s + 5.0, connect=5.0),
                                    transport=transport)
        try:
            health = self._request("GET", "/health")
            if health.status_code != 200:
                raise DeviceFaultError(f"the robot at {self.url} answered /health with "
                                       f"{health.status_code}: {_errors(health)}")
            self.health: dict[str, Any] = health.json()
            model = self.health.get("robot_model")
            if model != self.robot_type:
                raise DeviceFaultError(f"the robot at {self.url} is an {model}, the lab says "
                                       f"{robot}")
            self.software = str(self.health.get("api_version"))
            try:
                self.command_types = commands_of(self.software)
            except UnknownSoftwareError as e:
                raise DeviceFaultError(f"the robot at {self.url}: {e}") from None
            self.attached = self._attached()
            self.calibration = self._calibration()
            self.trash = self._trash()
            for run in previous_runs:
                self._release(run)
            #: the robot's current run when we came (whoever made it), before ours
            self.found_run = self._refuse_another_clients_run(previous_runs)
            self._asked_offsets = offsets or []  # each run of ours is made with them
            self.run_id, self.offsets = self._created_run(self._asked_offsets)
        except BaseException:
            self._client.close()
            raise

    def _attached(self) -> dict[str, str]:
        """The pipette on each mount, as the robot reads its instruments."""
        r = self._request("GET", "/instruments")
        if r.status_code != 200:
            raise DeviceFaultError(f"the robot at {self.url} would not say its instruments: "
                                   f"{r.status_code} {_errors(r)}")
        self._instruments: list[dict[str, Any]] = list(r.json().get("data") or [])
        return {str(i["mount"]): str(i.get("instrumentName")) for i in self._instruments
                if i.get("instrumentType") == "pipette"}

    def _calibration(self) -> dict[str, Any] | None:
        """The robot's calibration as it reports it (None: it serves no calibration status)."""
        r = self._request("GET", "/calibration/status")
        if r.status_code != 200:
            return None
        summary = calibration_summary(self.robot_type, r.json(), self._instruments)
        if summary.get("deck") in BAD_DECK_CALIBRATION:
            raise DeviceFaultError(f"the robot at {self.url} reports its deck calibration "
                                   f"{summary['deck']}: calibrate the deck (Opentrons App, "
                                   "Robot settings, Calibration) before a run")
        return summary

    def _trash(self) -> str:
        """Where the robot's deck configuration has its trash (a robot too old to have one
        has its default trash)."""
        r = self._request("GET", "/deck_configuration")
        if r.status_code != 200:
            return DEFAULT_TRASH[self.robot_type]
        trash = trash_area(self.robot_type, r.json()["data"].get("cutoutFixtures") or [])
        if trash is None:
            raise DeviceFaultError(f"the robot at {self.url} has no trash bin or waste chute "
                                   "in its deck configuration: add one (Opentrons App, Robot "
                                   "settings, Deck configuration)")
        return trash

    def _request(self, method: str, path: str, answers_500: bool = False,
                 **kw: Any) -> httpx.Response:
        """One request; a refused connection is transient, a broken one may have acted.
        A 500 is a fault unless ``answers_500`` (the robot answers some questions so)."""
        try:
            response = self._client.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise TransientDeviceError(f"robot at {self.url} unreachable: {e}") from None
        except httpx.HTTPError as e:
            raise DeviceFaultError(f"lost the robot at {self.url} during {method} {path} "
                                   f"({type(e).__name__}: {e}); the request may have "
                                   "been carried out") from None
        if response.status_code >= 500 and not (answers_500 and response.status_code == 500):
            raise DeviceFaultError(f"robot at {self.url}: {method} {path} answered "
                                   f"{response.status_code}: {_errors(response)}")
        return response

    def _run(self, run: str) -> dict[str, Any] | None:
        """The run as the robot shows it, or None if it has no such run."""
        r = self._request("GET", f"/runs/{run}")
        return r.json()["data"] if r.status_code == 200 else None

    def _current_run(self) -> dict[str, Any] | None:
        """The robot's current run, whoever made it, or None."""
        r = self._request("GET", "/runs")
        if r.status_code != 200:
            return None
        return next((run for run in r.json().get("data") or [] if run.get("current")), None)

    def _stop_and_wait(self, run: str) -> dict[str, Any] | None:
        """Stop ``run`` (if it has not ended) and wait until the robot says it is over."""
        data = self._run(run)
        if data is None or data.get("status") in TERMINAL:
            return data
        if data.get("current"):
            self._request("POST", f"/runs/{run}/actions", json={"data": {"actionType": "stop"}})
        deadline = time.monotonic() + STOP_S
        while data is not None and data.get("status") not in TERMINAL:
            if time.monotonic() > deadline:
                raise DeviceFaultError(f"the robot at {self.url} did not finish stopping run "
                                       f"{run} within {STOP_S:g} s (it reads "
                                       f"{data.get('status')})")
            time.sleep(POLL_S)
            data = self._run(run)
        return data

    def _release(self, run: str) -> None:
        """Stop ``run`` if it is still current, wait for the stop to finish, let it go."""
        data = self._run(run)
        if data is None or not data.get("current"):
            return
        data = self._stop_and_wait(run)
        if data is not None and data.get("current"):
            r = self._request("PATCH", f"/runs/{run}", json={"data": {"current": False}})
            if r.status_code != 200 and _error(r).get("id") != "RunStopped":  # not current now
                raise DeviceFaultError(f"the robot at {self.url} would not let go of run "
                                       f"{run}: {r.status_code} {_errors(r)}")

    def _refuse_another_clients_run(self, ours: tuple[str, ...]) -> dict[str, Any] | None:
        """A current run of another client that has not ended is in use (the Opentrons App
        setting up a protocol, a Labware Position Check): making ours would end it. Returns
        the current run found (id, status, created, whether ours), or None."""
        current = self._current_run()
        if (current is not None and current.get("id") not in ours
                and current.get("status") not in TERMINAL):
            raise TransientDeviceError(
                f"the robot at {self.url} is in use by another client (run {current['id']}, "
                f"created {current.get('createdAt')}, {current.get('status')}): let it finish "
                "or close it in the Opentrons App")
        return None if current is None else {
            "id": current.get("id"), "status": current.get("status"),
            "created": current.get("createdAt"), "ours": current.get("id") in ours}

    def _created_run(self, offsets: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
        """A new run with ``offsets``; its id and the offsets as the robot keeps them."""
        r = self._request("POST", "/runs",
                          json={"data": {"labwareOffsets": offsets} if offsets else {}})
        if r.status_code == 409:
            raise TransientDeviceError(f"the robot at {self.url} is busy: {_errors(r)}")
        if r.status_code != 201:
            raise DeviceFaultError(f"the robot at {self.url} would not create a run: "
                                   f"{r.status_code} {_errors(r)}")
        data = r.json()["data"]
        return str(data["id"]), list(data.get("labwareOffsets") or [])

    def _taken(self, response: httpx.Response, what: str) -> DeviceFaultError:
        """Why the robot refused ``what`` on our run (a 409): another client took the
        robot, stopped our run, or played it. None of it passes by waiting."""
        error = _error(response)
        if error.get("id") == "RunStopped":
            current = self._current_run()
            if current is not None and current.get("id") != self.run_id:
                return DeviceFaultError(
                    f"another client took the robot (run {current['id']}, created "
                    f"{current.get('createdAt')}): our run {self.run_id} was ended and the "
                    f"robot did not take {what}")
            return DeviceFaultError(f"the robot ended our run {self.run_id} (stopped or let "
                                    f"go by another client) and did not take {what}: "
                                    f"{_errors(response)}")
        return DeviceFaultError(f"the robot did not take {what} on our run {self.run_id}: "
                                f"{_errors(response)}")

    def add_labware_definition(self, definition: dict[str, Any]) -> str:
        name = definition["parameters"]["loadName"]
        r = self._request("POST", f"/runs/{self.run_id}/labware_definitions",
                          json={"data": definition})
        if r.status_code == 409:
            raise self._taken(r, f"labware {name}")
        if r.status_code not in (200, 201):
            raise DeviceFaultError(f"the robot refuses labware {name}: {_errors(r)}")
        return str(r.json()["data"]["definitionUri"])

    def send(self, cmd: Command) -> CommandResult:
        validate(cmd)  # the robot would answer 422; refuse it before it travels
        r = self._request("POST", f"/runs/{self.run_id}/commands", json={"data": cmd},
                          params={"waitUntilComplete": "true",
                                  "timeout": str(int(self.timeout_s * 1000))})
        if r.status_code == 422:
            raise InvalidCommandError(f"{cmd['commandType']}: {_errors(r)}")
        if r.status_code == 409:  # not queued: our run is gone, stopped or playing
            raise self._taken(r, cmd["commandType"])
        if r.status_code != 201:
            raise DeviceFaultError(f"the robot answered {r.status_code} to "
                                   f"{cmd['commandType']}: {_errors(r)}")
        result = result_from_json(r.json()["data"])
        deadline = time.monotonic() + self.timeout_s
        while result.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(POLL_S)
            again = self.status(result.id)
            result = again if again is not None else result
        return result

    def status(self, command_id: str, run_id: str | None = None) -> CommandResult | None:
        """The command as recorded, by its id. The robot answers an unknown id with 404 on
        a run it keeps in its store and with 500 on the current run (its engine raises
        ``CommandDoesNotExistError``): both mean no such command."""
        run = run_id or self.run_id
        r = self._request("GET", f"/runs/{run}/commands/{command_id}", answers_500=True)
        if r.status_code == 404 or (r.status_code == 500 and (_error(r).get("meta") or {})
                                    .get("type") == "CommandDoesNotExistError"):
            return None
        if r.status_code != 200:
            raise DeviceFaultError(f"the robot answered {r.status_code} about command "
                                   f"{command_id}: {_errors(r)}")
        return result_from_json(r.json()["data"])

    def knows_run(self, run_id: str) -> bool:
        return self._run(run_id) is not None

    def find(self, key: str, run_id: str | None = None) -> CommandResult | None:
        """The command sent with ``key``, read by its id (list items have no results)."""
        run = run_id or self.run_id
        item = next((d for d in self._records(run) if d.get("key") == key), None)
        return None if item is None else self.status(str(item["id"]), run)

    def tips_left(self, run_ids: list[str]) -> set[str]:
        records: list[dict[str, Any]] = []
        mounts: dict[str, str] = {}
        for run in run_ids:
            data = self._run(run)
            if data is None:
                continue
            mounts.update(pipette_mounts(data))
            records += self._records(run)
        return tips_left(records, mounts)

    def commands(self) -> list[CommandResult]:
        """Every command of this run, in order, as the robot lists them: without results
        (read one with ``status``). For tests and reports."""
        return [result_from_json(d) for d in self._records(self.run_id)]

    def _records(self, run: str) -> list[dict[str, Any]]:
        """The run's command summaries in order, paged as the robot pages: from an explicit
        cursor (without one it answers the last page), until ``totalLength``; a cursor past
        the end answers the last command again (its ``meta.cursor`` says so), not nothing."""
        out: list[dict[str, Any]] = []
        while True:
            r = self._request("GET", f"/runs/{run}/commands",
                              params={"cursor": str(len(out)), "pageLength": str(PAGE_LENGTH)})
            if r.status_code == 404:
                return out
            page = r.json()
            if page["meta"]["cursor"] != len(out):  # clamped: there is nothing past the end
                return out
            out += page["data"]
            if not page["data"] or len(out) >= page["meta"]["totalLength"]:
                return out

    def halt(self) -> str | None:
        """The robot's stop action on our run if a command of it is running or queued (the
        running one ends, nothing after it starts), then, once the run reads stopped, a new
        run: the robot takes no more commands on a stopped one."""
        r = self._request("GET", f"/runs/{self.run_id}/commands",
                          params={"pageLength": str(PAGE_LENGTH)})
        if r.status_code != 200:
            return None
        moving = [d for d in r.json().get("data") or [] if d.get("status") in ("queued",
                                                                                 "running")]
        if not moving:
            return None
        old = self.run_id
        self._release(old)
        self.run_id, self.offsets = self._created_run(self._asked_offsets)
        return (f"{moving[0].get('commandType')} (key {moving[0].get('key')}) on run {old}")

    def close(self) -> None:
        """Stop the run, wait for the stop to finish and let it go, so the robot is free
        for the next one."""
        try:
            self._release(self.run_id)
        except (TransientDeviceError, DeviceFaultError):
            pass
        finally:
            self._client.close()
