"""A robot over its HTTP API (port 31950): a real OT-2 or Flex, or ``mscrobot emulate opentrons``.

One run per backend, created when it opens; each command is posted with ``intent: setup`` and
``waitUntilComplete``, so the run stays idle and a failed command fails only itself. Errors are
sorted by what they say about the command:

- the request never reached the robot (connection refused, the robot busy with another run,
  409 on a command it would not queue): ``TransientDeviceError`` — nothing was done;
- the connection broke after the command was sent: ``DeviceFaultError`` — it may have run, and
  only the robot's record (``status``) or the operator can say;
- the robot answered: the command as it recorded it, failed or not (``CommandResult``).

A command still running when ``waitUntilComplete`` times out is polled until ``timeout_s``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from mscrobot.lab.opentrons.backend import (
    ROBOT_TYPES,
    CommandResult,
    result_from_json,
    tips_left,
)
from mscrobot.lab.opentrons.commands import Command, InvalidCommandError, validate
from mscrobot.lab.protocols import DeviceFaultError, TransientDeviceError

#: The robot server's HTTP API version mscrobot was written against (a newer robot answers in
#: it: the server uses min(asked, its own)).
API_VERSION = "4"
POLL_S = 0.2


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('id', '')}: {e.get('detail') or e.get('title', '')}"
                         for e in errors) or response.text[:200]
    except ValueError:
        return response.text[:200]


class HttpBackend:
    def __init__(self, url: str, robot: str = "OT-2", timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None,
                 previous_runs: tuple[str, ...] = ()) -> None:
        """``previous_runs``: runs this lab's earlier processes created; one still current
        (its process died) is stopped and let go, so the robot takes a new run."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.robot_type = ROBOT_TYPES[robot]
        self._client = httpx.Client(base_url=self.url, headers={"Opentrons-Version": API_VERSION},
                                    timeout=httpx.Timeout(timeout_s + 5.0, connect=5.0),
                                    transport=transport)
        try:
            health = self._request("GET", "/health").json()
            if health.get("robot_model") != self.robot_type:
                raise DeviceFaultError(f"the robot at {self.url} is an "
                                       f"{health.get('robot_model')}, the lab says {robot}")
            for run in previous_runs:
                self._release(run)
            self.run_id = self._created_run()
        except BaseException:
            self._client.close()
            raise

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request; a refused connection is transient, a broken one may have acted."""
        try:
            response = self._client.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise TransientDeviceError(f"robot at {self.url} unreachable: {e}") from None
        except httpx.HTTPError as e:
            raise DeviceFaultError(f"lost the robot at {self.url} during {method} {path} "
                                   f"({type(e).__name__}: {e}); the request may have "
                                   "been carried out") from None
        if response.status_code >= 500:
            raise DeviceFaultError(f"robot at {self.url}: {method} {path} answered "
                                   f"{response.status_code}: {_errors(response)}")
        return response

    def _release(self, run: str) -> None:
        r = self._request("GET", f"/runs/{run}")
        if r.status_code != 200 or not r.json()["data"].get("current"):
            return
        if r.json()["data"].get("status") not in ("stopped", "failed", "succeeded"):
            self._request("POST", f"/runs/{run}/actions", json={"data": {"actionType": "stop"}})
        self._request("PATCH", f"/runs/{run}", json={"data": {"current": False}})

    def _created_run(self) -> str:
        r = self._request("POST", "/runs", json={"data": {}})
        if r.status_code == 409:
            raise TransientDeviceError(f"the robot at {self.url} is busy: {_errors(r)}")
        if r.status_code != 201:
            raise DeviceFaultError(f"the robot at {self.url} would not create a run: "
                                   f"{r.status_code} {_errors(r)}")
        return str(r.json()["data"]["id"])

    def add_labware_definition(self, definition: dict[str, Any]) -> str:
        r = self._request("POST", f"/runs/{self.run_id}/labware_definitions",
                          json={"data": definition})
        if r.status_code not in (200, 201):
            raise DeviceFaultError(f"the robot refuses labware "
                                   f"{definition['parameters']['loadName']}: {_errors(r)}")
        return str(r.json()["data"]["definitionUri"])

    def send(self, cmd: Command) -> CommandResult:
        validate(cmd)  # the robot would answer 422; refuse it before it travels
        r = self._request("POST", f"/runs/{self.run_id}/commands", json={"data": cmd},
                          params={"waitUntilComplete": "true",
                                  "timeout": str(int(self.timeout_s * 1000))})
        if r.status_code == 422:
            raise InvalidCommandError(f"{cmd['commandType']}: {_errors(r)}")
        if r.status_code == 409:  # not queued: the run is busy, stopped or not current
            raise TransientDeviceError(f"the robot did not take {cmd['commandType']}: "
                                       f"{_errors(r)}")
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
        run = run_id or self.run_id
        r = self._request("GET", f"/runs/{run}/commands/{command_id}")
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise DeviceFaultError(f"the robot answered {r.status_code} about command "
                                   f"{command_id}: {_errors(r)}")
        return result_from_json(r.json()["data"])

    def knows_run(self, run_id: str) -> bool:
        return self._request("GET", f"/runs/{run_id}").status_code == 200

    def find(self, key: str, run_id: str | None = None) -> CommandResult | None:
        records = self._records(run_id or self.run_id)
        return next((result_from_json(d) for d in records if d.get("key") == key), None)

    def tips_left(self, run_ids: list[str]) -> set[str]:
        return tips_left([r for run in run_ids for r in self._records(run)])

    def commands(self) -> list[CommandResult]:
        """Every command of this run, in order (tests, reports)."""
        return [result_from_json(d) for d in self._records(self.run_id)]

    def _records(self, run: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            r = self._request("GET", f"/runs/{run}/commands",
                              params={"cursor": str(len(out)), "pageLength": "200"})
            if r.status_code == 404:
                return out
            page = r.json()
            out += page["data"]
            if not page["data"] or len(out) >= page["meta"]["totalLength"]:
                return out

    def close(self) -> None:
        """Stop the run and let it go, so the robot is free for the next one."""
        try:
            self._request("POST", f"/runs/{self.run_id}/actions",
                          json={"data": {"actionType": "stop"}})
            self._request("PATCH", f"/runs/{self.run_id}", json={"data": {"current": False}})
        except (TransientDeviceError, DeviceFaultError):
            pass
        finally:
            self._client.close()
