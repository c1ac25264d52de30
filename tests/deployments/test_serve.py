"""``rewards serve`` as a team runs it: uploads dropped in the inbox start runs with the
deployment's settings, an upload above the installation's approval floor waits for a person,
and a run whose process is killed shows Crashed. A real ``rewards serve`` process, the test
session's Prefect server, the sandbox over HTTP."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client

from flows.scan_inbox import announce, scan_inbox
from rewards.inbox import Upload
from sandbox import SandboxServer
from sandbox.server import free_port
from tests.deployments.test_inbox_and_triggers import drop
from tests.flows.test_approval import answer, artifacts_by_key
from tests.flows.test_cli_run import rewards
from tests.helpers import runs_of, wait_for

ROOT = Path(__file__).resolve().parents[2]


def rows(tag: str) -> str:
    """Five rewards of 5.00 USD (25.00: above the floor of 10), new to the sandbox."""
    lines = "".join(f"{tag}-{i}@example.com,U100001,5.00,email\n" for i in range(5))
    return "Email,UTID,Amount,Delivery Method\n" + lines


def serve(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "serve", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(30)


def deployment_parameters(name: str) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name).parameters
        except Exception:
            return {}


def run_of(path: str) -> Any:
    """The on-upload run started for ``path``, once it exists."""
    found = runs_of("fulfil-rewards/on-upload", path)
    return found[0] if found else None


def state_of(run_id: Any) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return state.type.value if state else ""


def seen(run_id: Any, log: Path) -> str:
    """What a wait on a run saw, for the failure message: its state and serve's last lines."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    said = log.read_text(errors="replace")[-3000:] if log.exists() else "(no serve log)"
    return f"run {run_id} is {state.name if state else None} ({state and state.message}); serve said:\n{said}"


def until(run_id: Any, state: str, log: Path, timeout: float = 90) -> None:
    wait_for(
        lambda: state_of(run_id) == state,
        timeout=timeout,
        interval=0.2,
        explain=lambda: seen(run_id, log),
    )


def clear_unserved_runs() -> None:
    """Runs earlier tests left scheduled for the on-upload deployments (no serve was running
    then) would be the first thing this serve picks up, delaying the runs a test waits for."""
    with get_client(sync_client=True) as client:
        for deployment in ("fulfil-rewards/on-upload", "manage-rewards/on-upload"):
            for run in runs_of(deployment):
                if run.state and run.state.type.value == "SCHEDULED":
                    client.delete_flow_run(run.id)


def tango_lines(sandbox: SandboxServer, campaign: str) -> int:
    with sandbox.engine.store.tx() as c:
        return c.execute(
            "SELECT COUNT(*) FROM line_items l JOIN orders o "
            "ON o.reference_order_id = l.reference_order_id WHERE o.campaign = ?",
            (campaign,),
        ).fetchone()[0]


@pytest.fixture
def team(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """A ``rewards serve`` with the team's settings: a campaign and a run threshold of 1,000 on
    the command line, an approval floor of 10 for the installation."""
    campaign = f"t-{uuid.uuid4().hex[:10]}"
    clear_unserved_runs()
    # scan-inbox runs in this process: the same inbox registry as serve's
    monkeypatch.setenv("REWARDS_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")

    env = {
        **os.environ,
        **sandbox.tango_env(),
        "PREFECT_API_URL": prefect_server,
        "TANGO_MAX_ATTEMPTS": "2",
        "REWARDS_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "REWARDS_REPORTS_DIR": str(tmp_path / "reports"),
        "REWARDS_INBOX_DIR": str(tmp_path / "inbox"),
        "REWARDS_APPROVAL_THRESHOLD": "10",
        "REWARDS_SILENT_RUN_SECONDS": "40",
        "REWARDS_REPORTS_PORT": str(free_port()),
    }
    args = ("--campaign", campaign, "--approval-threshold", "1000", "--cron", "0 0 1 1 *")
    proc = serve(env, *args, log=tmp_path / "serve.log")
    try:
        wait_for(
            lambda: (
                deployment_parameters("fulfil-rewards/on-upload").get("campaign") == campaign
                or proc.poll() is not None
            ),
            timeout=90,
        )
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        yield {
            "proc": proc,
            "campaign": campaign,
            "inbox": tmp_path / "inbox",
            "env": env,
            "log": tmp_path / "serve.log",
        }
    finally:
        stop(proc)


def upload(inbox: Path) -> Any:
    """Drop a new file in the inbox, announce it, and return the run it starts."""
    tag = uuid.uuid4().hex[:6]
    drop(inbox, f"upload-{tag}.csv", rows(tag))
    (announced,) = scan_inbox(inbox=str(inbox), settle_seconds=1)
    return wait_for(lambda: run_of(announced), timeout=30)


def test_an_upload_above_the_floor_waits_then_approve_sends_and_reject_does_not(
    team: dict[str, Any], sandbox: SandboxServer, prefect_server: str
) -> None:
    approved = upload(team["inbox"])
    assert approved.parameters["campaign"] == team["campaign"]  # the deployment's settings
    assert approved.parameters["approval_threshold"] in (1000, "1000")
    until(approved.id, "PAUSED", team["log"], timeout=90)
    assert tango_lines(sandbox, team["campaign"]) == 0
    answer(prefect_server, approved.id, {"decision": "approve", "approver": "Grace"})
    until(approved.id, "COMPLETED", team["log"], timeout=90)
    assert tango_lines(sandbox, team["campaign"]) == 5
    # the report, one click from the run's page: a link the browser opens
    files = next(a for a in artifacts_by_key(approved.id).items() if a[0].endswith("-files"))[1]
    link = re.search(r"\[report\.csv\]\((http[^)]+)\)", files).group(1)
    report = httpx.get(link)
    assert report.status_code == 200 and report.text.count("complete") == 5

    rejected = upload(team["inbox"])
    until(rejected.id, "PAUSED", team["log"], timeout=90)
    answer(prefect_server, rejected.id, {"decision": "reject", "approver": "Alan"})
    until(rejected.id, "CANCELLED", team["log"], timeout=90)
    assert tango_lines(sandbox, team["campaign"]) == 5  # nothing more
    assert errors_logged(rejected.id) == []  # an expected ending: no ERROR, no traceback

    # the same upload announced again (a lost event re-sent, a second watcher): a second run
    # starts, and ends at once, sending nothing and asking nobody; the rejection stands
    path = Path(rejected.parameters["source_path"])
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    announce(Upload(path=path, name=path.name, sha256=sha, duplicate=False))

    again = wait_for(lambda: second_run_of(rejected.parameters["source_path"], rejected.id))
    until(again.id, "CANCELLED", team["log"], timeout=90)
    with get_client(sync_client=True) as client:
        said = client.read_flow_run(again.id).state.message
    assert f"is handled by run {rejected.id}; this run sends nothing" in said
    assert tango_lines(sandbox, team["campaign"]) == 5
    assert errors_logged(again.id) == []


def errors_logged(run_id: Any) -> list[str]:
    """The run's log lines at ERROR or above (once its process has ended: its last lines
    reach the server after the run's final state)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel

    time.sleep(5)

    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]), level=LogFilterLevel(ge_=40))
        )
    return [entry.message for entry in logs]


def second_run_of(path: str, first: Any) -> Any:
    found = [r for r in runs_of("fulfil-rewards/on-upload", path) if r.id != first]
    return found[0] if found else None


def test_settings_edited_on_the_deployment_reach_the_next_upload(
    team: dict[str, Any], prefect_server: str
) -> None:
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("fulfil-rewards/on-upload")
    # what the UI's edit form sends: the parameters alone, no dummy source path needed
    edited = {**dep.parameters, "approval_threshold": 250, "dry_run": True}
    # as the UI does, again while the server answers 503 (its SQLite busy with serve's writes)
    wait_for(
        lambda: (
            httpx.patch(
                f"{prefect_server}/deployments/{dep.id}", json={"parameters": edited}
            ).status_code
            == 204
        ),
        timeout=30,
        interval=0.5,
    )

    run = upload(team["inbox"])
    assert run.parameters["approval_threshold"] == 250 and run.parameters["dry_run"] is True
    assert run.parameters["campaign"] == team["campaign"]
    until(run.id, "COMPLETED", team["log"], timeout=90)  # a dry run: no approval


def test_a_run_killed_while_waiting_for_approval_shows_crashed(
    team: dict[str, Any], sandbox: SandboxServer
) -> None:
    run = upload(team["inbox"])
    until(run.id, "PAUSED", team["log"], timeout=90)
    stop(team["proc"], signal.SIGKILL)  # serve and the run's process, at once
    time.sleep(1)
    assert state_of(run.id) == "PAUSED"
    until(run.id, "CRASHED", team["log"], timeout=180)
    with get_client(sync_client=True) as client:
        message = client.read_flow_run(run.id).state.message
    assert "run the same file again" in message
    assert tango_lines(sandbox, team["campaign"]) == 0


def test_ctrl_c_stops_serve_quietly_within_seconds(team: dict[str, Any], tmp_path: Path) -> None:
    """Ctrl-C in the terminal (SIGINT to the process group) while a run waits for approval:
    serve stops within seconds, without a traceback."""
    waiting = upload(team["inbox"])
    until(waiting.id, "PAUSED", team["log"], timeout=90)
    proc = team["proc"]
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(120)
    took = time.monotonic() - start
    said = (tmp_path / "serve.log").read_text()
    assert took < 15, f"serve took {took:.0f} s to stop:\n{said[-2000:]}"
    assert "Traceback" not in said, said[-4000:]


def test_serve_stops_with_one_line_when_the_report_port_is_taken(
    prefect_server: str, tmp_path: Path
) -> None:
    """Another serve still holding the report file server's port: the new one would serve
    runs whose report links all fail; it stops at once instead, saying what to do."""
    import socket

    port = free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen()
    try:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_server,
            "REWARDS_REPORTS_DIR": str(tmp_path / "reports"),
            "REWARDS_REPORTS_PORT": str(port),
        }
        code, said = rewards("serve", env=env)
    finally:
        taken.close()
    assert code == 2 and "Traceback" not in said, said
    assert f"cannot listen on 127.0.0.1:{port}" in said and "REWARDS_REPORTS_PORT" in said, said
