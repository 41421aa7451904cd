"""The browser view's HTTP API in process (Starlette's TestClient) on runs the real engine made:
what the pages are fed, the answer and stop actions through the CLI's code, and the guard."""

from __future__ import annotations

import json
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from mscrobot.app.runs import execute
from mscrobot.engine.journal import Journal
from mscrobot.engine.states import RunState
from mscrobot.ui.server import TOKEN_HEADER, Guard, create_app, make_guard
from tests.ui.runs import SCRIPT_NAME, asking_run, completed_run, new_run

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "a-test-token-of-enough-length"


def _client(runs: Path, guard: Guard | None = None) -> TestClient:
    guard = guard or Guard(TOKEN, required_to_read=False, allowed_hosts=frozenset({"testserver"}))
    return TestClient(create_app(runs, guard))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    completed_run(out)
    completed_run(out, name=SCRIPT_NAME)
    return out


def _by_recipe(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rows if r["recipe"] == name)


def test_the_runs_list_says_state_recipe_lab_verdict_and_lab_time(runs: Path) -> None:
    rows = _client(runs).get("/api/runs").json()["runs"]
    assert len(rows) == 2
    row = _by_recipe(rows, "(CdS)34 with ZnCl2 in DMF")
    assert row["state"] == "completed" and row["lab"] == "twin" and not row["waiting"]
    assert row["verdict"] == "back complete → finish"
    assert row["lab_time_s"] > 600
    # recipe text is data: it comes back exactly as written, for the page to show as text
    assert _by_recipe(rows, SCRIPT_NAME)["recipe"] == SCRIPT_NAME


def test_the_run_document_has_both_phases_spectra_fractions_and_the_threshold(runs: Path) -> None:
    rid = _by_recipe(_client(runs).get("/api/runs").json()["runs"], "(CdS)34 with ZnCl2 in DMF")[
        "id"
    ]
    doc = _client(runs).get(f"/api/runs/{rid}").json()
    journal = Journal(runs / rid / "journal.sqlite")
    try:
        samples = [s for s in journal.spectra() if s.meta["kind"] == "sample"]
        verdicts = journal.verdicts()
    finally:
        journal.close()
    assert {s["phase"] for s in doc["spectra"]} == {"nonpolar", "polar"}
    assert len(doc["spectra"]) == len(samples) == doc["summary"]["samples"]
    first = doc["spectra"][0]
    assert len(first["wl"]) == len(first["a"]) <= 400
    assert max(a for a in first["a"] if a is not None) > 0.1  # the clusters' band, corrected
    assert doc["threshold"] == 0.05
    assert [f["step"] for f in doc["fractions"]] == [
        v["step"] for v in verdicts if "remaining" in v["numbers"]
    ]
    assert doc["fractions"][-1]["alkane"] == pytest.approx(verdicts[-1]["numbers"]["remaining"])
    assert [v["step"] for v in doc["verdicts"]] == [v["step"] for v in verdicts]
    devices = {d["device"]: d["reading"] for d in doc["devices"]}
    assert devices["stirrer"] == "0 rpm (read back)"  # a finished run's stirrer is off
    assert set(devices) == {"stirrer", "liquid handler", "spectrometer"}
    assert doc["steps"][-1]["text"] and doc["steps_total"] == len(journal_steps(runs / rid))


def journal_steps(path: Path) -> list[Any]:
    journal = Journal(path / "journal.sqlite")
    try:
        return journal.steps()
    finally:
        journal.close()


def test_the_event_stream_sends_the_run_at_once_and_a_page_that_reconnects_gets_it_again(
    runs: Path,
) -> None:
    rid = sorted(p.name for p in runs.iterdir())[0]
    client = _client(runs)
    for _ in range(2):
        with client.stream("GET", f"/api/runs/{rid}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(lines) == "event: run"
            doc = json.loads(next(lines).removeprefix("data: "))
        assert doc["summary"]["id"] == rid and len(doc["spectra"]) > 0


@pytest.fixture(scope="module")
def asking_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    out = tmp_path_factory.mktemp("asking")
    info, end = asking_run(out)
    assert end.pending is not None
    return out, info.id, int(end.pending["step"])


@pytest.fixture
def asking(asking_template: tuple[Path, str, int], tmp_path: Path) -> tuple[Path, str, int]:
    """A fresh copy of a run waiting at its first question (each test answers it anew)."""
    out, rid, step = asking_template
    shutil.copytree(out / rid, tmp_path / rid)
    return tmp_path, rid, step


def _answer(
    client: TestClient, rid: str, step: int, choice: str, token: str | None = TOKEN, **headers: str
) -> Any:
    if token is not None:
        headers[TOKEN_HEADER] = token
    return client.post(
        f"/api/runs/{rid}/answer",
        json={"step": step, "choice": choice, "who": "Ana"},
        headers=headers,
    )


def test_a_waiting_run_stands_out_and_offers_its_choices(asking: tuple[Path, str, int]) -> None:
    runs, rid, step = asking
    client = _client(runs)
    assert client.get("/api/runs").json()["runs"][0]["waiting"] is True
    pending = client.get(f"/api/runs/{rid}").json()["summary"]["pending"]
    assert pending["step"] == step and "continue" in pending["choices"]


def test_an_answer_is_journaled_with_who_and_the_second_is_told_it_lost(
    asking: tuple[Path, str, int],
) -> None:
    runs, rid, step = asking
    client = _client(runs)
    first = _answer(client, rid, step, "extend")
    assert first.status_code == 200, first.text
    second = _answer(client, rid, step, "abort")
    assert second.status_code == 409
    assert "answered already (--extend)" in second.json()["detail"]
    journal = Journal(runs / rid / "journal.sqlite")
    try:
        assert journal.operator_answer(step) == "extend"
        (req,) = journal.requests()
        assert req["kind"] == "answer" and req["step"] == step and req["detail"] == "extend"
        assert req["who"] == "Ana at testclient" and req["wall"]
    finally:
        journal.close()
    doc = client.get(f"/api/runs/{rid}").json()
    assert doc["summary"]["pending"]["answer"] == "extend"
    assert doc["requests"][0]["who"] == "Ana at testclient"


def test_two_answers_at_once_one_wins(asking: tuple[Path, str, int]) -> None:
    runs, rid, step = asking
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def answer(choice: str) -> None:
        client = _client(runs)
        barrier.wait()
        codes.append(_answer(client, rid, step, choice).status_code)

    threads = [threading.Thread(target=answer, args=(c,)) for c in ("extend", "abort")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]
    journal = Journal(runs / rid / "journal.sqlite")
    try:
        assert len(journal.answers()) == 1 and len(journal.requests()) == 1
    finally:
        journal.close()


def test_an_answer_the_question_does_not_offer_is_refused_and_nothing_is_recorded(
    asking: tuple[Path, str, int],
) -> None:
    runs, rid, step = asking
    client = _client(runs)
    assert _answer(client, rid, step, "done").status_code == 400
    assert _answer(client, rid, step + 1, "extend").status_code == 409
    assert (
        client.post(
            f"/api/runs/{rid}/answer", content=b"[1]", headers={TOKEN_HEADER: TOKEN}
        ).status_code
        == 400
    )
    journal = Journal(runs / rid / "journal.sqlite")
    try:
        assert journal.answers() == [] and journal.requests() == []
    finally:
        journal.close()


def test_the_answered_run_resumes_from_the_browsers_answer(asking: tuple[Path, str, int]) -> None:
    runs, rid, step = asking
    assert _answer(_client(runs), rid, step, "abort").status_code == 200
    from mscrobot.app.runs import load_run

    end = execute(load_run(runs / rid))
    assert end.state == RunState.COMPLETED and "abort" in end.reason


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token
        {TOKEN_HEADER: "wrong"},
        {TOKEN_HEADER: TOKEN, "Origin": "http://evil.example"},
        {TOKEN_HEADER: TOKEN, "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_actions_need_the_token_in_a_header_and_the_same_origin(
    asking: tuple[Path, str, int], headers: dict[str, str]
) -> None:
    runs, rid, step = asking
    client = _client(runs)
    response = client.post(
        f"/api/runs/{rid}/answer", json={"step": step, "choice": "abort"}, headers=headers
    )
    assert response.status_code == 403
    ok = client.post(
        f"/api/runs/{rid}/answer",
        json={"step": step, "choice": "abort"},
        headers={TOKEN_HEADER: TOKEN, "Origin": "http://testserver"},
    )
    assert ok.status_code == 200  # the same request, from the page itself


def test_actions_are_posts(asking: tuple[Path, str, int]) -> None:
    runs, rid, _ = asking
    assert _client(runs).get(f"/api/runs/{rid}/stop").status_code == 405


def test_a_stop_of_a_run_nothing_executes_is_refused(runs: Path) -> None:
    rid = sorted(p.name for p in runs.iterdir())[0]
    response = _client(runs).post(f"/api/runs/{rid}/stop", headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 409 and "not executing" in response.json()["detail"]


def test_a_stop_from_the_browser_stops_the_executing_run_safely(tmp_path: Path) -> None:
    info = new_run(tmp_path)
    ends: list[Any] = []
    first_step = threading.Event()

    def paced(event: Any) -> None:  # a twin run slowed to a few steps a second
        first_step.set()
        time.sleep(0.05)

    thread = threading.Thread(target=lambda: ends.append(execute(info, paced)))
    thread.start()
    assert first_step.wait(10)
    client = _client(tmp_path)
    response = client.post(
        f"/api/runs/{info.id}/stop", json={"who": "Bo"}, headers={TOKEN_HEADER: TOKEN}
    )
    thread.join(30)
    assert response.status_code == 200, response.text
    (end,) = ends
    assert end.state == RunState.STOPPED
    journal = Journal(info.path / "journal.sqlite")
    try:
        assert (
            "stopped by the operator (from the browser by Bo at testclient)" in journal.state()[1]
        )  # type: ignore[index]
        assert [r["kind"] for r in journal.requests()] == ["stop"]
    finally:
        journal.close()


@pytest.fixture
def open_guard() -> Guard:
    return make_guard("0.0.0.0", TOKEN)


def test_off_loopback_every_request_needs_the_token(runs: Path, open_guard: Guard) -> None:
    assert open_guard.required_to_read
    client = _client(runs, open_guard)
    for url in ("/", "/api/runs", "/static/run.js"):
        assert client.get(url).status_code == 401, url
    assert client.get("/api/runs", params={"token": "nope"}).status_code == 401
    first = client.get("/", params={"token": TOKEN}, follow_redirects=False)
    assert first.status_code == 303 and "token" not in first.headers["location"]
    assert client.get("/api/runs").status_code == 200  # the cookie set by the printed URL
    assert client.post("/api/runs/x/stop").status_code == 403  # a cookie is not enough to act


def test_on_loopback_reading_is_free_but_another_host_name_is_refused(runs: Path) -> None:
    guard = make_guard("127.0.0.1")
    assert not guard.required_to_read and len(guard.token) >= 24
    client = _client(runs, guard)
    assert client.get("/api/runs", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/api/runs", headers={"Host": "localhost"}).status_code == 200
    assert client.get("/api/runs", headers={"Host": "evil.example"}).status_code == 421


def test_pages_carry_the_token_for_their_posts_and_no_run_text(runs: Path) -> None:
    client = _client(runs)
    rid = _by_recipe(client.get("/api/runs").json()["runs"], SCRIPT_NAME)["id"]
    page = client.get(f"/run/{rid}")
    assert page.status_code == 200 and TOKEN in page.text
    assert (
        "<script>window" not in page.text
        and "script-src 'self'" in page.headers["content-security-policy"]
    )
    assert client.get("/run/no-such-run").status_code == 404
    assert client.get("/api/runs/..%2F..%2Fetc").status_code == 404


def test_with_a_browser_view_attached_a_run_waits_for_the_answer_and_goes_on(
    tmp_path: Path,
) -> None:
    """The run's process does not exit at the question: it waits in the journal for the
    browser's answer, then goes on by itself (no `run --resume`)."""
    from mscrobot.app.runs import ui_attached
    from tests.engine.runs import SUBTHRESHOLD

    info = new_run(tmp_path, SUBTHRESHOLD)
    ends: list[Any] = []
    with ui_attached(tmp_path):
        thread = threading.Thread(target=lambda: ends.append(execute(info)))
        thread.start()
        client = _client(tmp_path)
        deadline = time.monotonic() + 30
        pending = None
        while pending is None and time.monotonic() < deadline:
            pending = client.get(f"/api/runs/{info.id}").json()["summary"]["pending"]
            time.sleep(0.05)
        assert pending is not None and thread.is_alive()  # waiting, not exited
        assert _answer(client, info.id, pending["step"], "abort").status_code == 200
        thread.join(30)
    (end,) = ends
    assert end.state == RunState.COMPLETED and "abort" in end.reason


def test_the_editor_checks_text_with_the_clis_messages_at_their_lines(runs: Path) -> None:
    from mscrobot.recipe import RecipeError
    from mscrobot.recipe.loader import load_recipe_text

    client = _client(runs)
    start = client.get("/api/recipe/start").json()
    ok = client.post(
        "/api/recipe/check", json={"text": start["text"]}, headers={TOKEN_HEADER: TOKEN}
    ).json()
    assert ok["valid"] and any("per cluster" in line for line in ok["amounts"])
    bad = start["text"].replace("concentration: 20 uM", "concentration: 20 kg", 1)
    doc = client.post(
        "/api/recipe/check",
        json={"text": bad, "source": "x/mine.yaml"},
        headers={TOKEN_HEADER: TOKEN},
    ).json()
    with pytest.raises(RecipeError) as cli:
        load_recipe_text(bad, "mine.yaml")
    assert not doc["valid"]
    assert [p["text"] for p in doc["problems"]] == [str(p) for p in cli.value.problems]
    (problem,) = doc["problems"]
    assert bad.splitlines()[problem["line"] - 1].strip().startswith("concentration: 20 kg")
    rid = _by_recipe(client.get("/api/runs").json()["runs"], SCRIPT_NAME)["id"]
    journaled = client.get("/api/recipe/start", params={"run": rid}).json()
    assert SCRIPT_NAME.replace("'", "''") in journaled["text"]
    assert client.post("/api/recipe/check", json={"text": bad}).status_code == 403


def test_a_pause_from_the_browser_leaves_the_run_paused_and_it_resumes(tmp_path: Path) -> None:
    from mscrobot.app.runs import load_run

    info = new_run(tmp_path)
    ends: list[Any] = []
    first_step = threading.Event()

    def paced(event: Any) -> None:
        first_step.set()
        time.sleep(0.05)

    thread = threading.Thread(target=lambda: ends.append(execute(info, paced)))
    thread.start()
    assert first_step.wait(10)
    response = _client(tmp_path).post(
        f"/api/runs/{info.id}/pause", json={"who": "Cy"}, headers={TOKEN_HEADER: TOKEN}
    )
    thread.join(30)
    assert response.status_code == 200, response.text
    assert ends[0].state == RunState.PAUSED
    journal = Journal(info.path / "journal.sqlite")
    try:
        state = journal.state()
        assert state is not None and state[0] == "paused"
        assert "paused by the operator (from the browser by Cy at testclient)" in state[1]
        assert [r["kind"] for r in journal.requests()] == ["pause"]
    finally:
        journal.close()
    assert execute(load_run(info.path)).state == RunState.COMPLETED


def test_compare_sets_runs_side_by_side_with_their_recipes_differences(runs: Path) -> None:
    client = _client(runs)
    rows = client.get("/api/runs").json()["runs"]
    ids = [_by_recipe(rows, "(CdS)34 with ZnCl2 in DMF")["id"], _by_recipe(rows, SCRIPT_NAME)["id"]]
    doc = client.get("/api/compare", params=[("run", i) for i in ids]).json()
    assert [r["id"] for r in doc["runs"]] == ids
    assert all(set(r["latest"]) == {"nonpolar", "polar"} for r in doc["runs"])
    assert all(len(r["fractions"]) > 3 for r in doc["runs"])
    (diff,) = doc["differences"]
    changed = [
        line for line in diff["lines"] if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ["-name: (CdS)34 with ZnCl2 in DMF", "+name: '" + SCRIPT_NAME + "'"]
