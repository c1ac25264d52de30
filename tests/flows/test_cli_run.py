"""``rewards run`` as a person types it: a subprocess, its exit code and what it prints."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from sandbox import SandboxServer
from tests.flows.conftest import recipients, write_csv

ROOT = Path(__file__).resolve().parents[2]


def rewards(*args: str, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "deployments.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stdout + done.stderr


def team_env(sandbox: SandboxServer, prefect_server: str, work: Path) -> dict[str, str]:
    """The environment of `rewards run` for a team: the sandbox, a Prefect server, a ledger."""
    return {
        **os.environ,
        **sandbox.tango_env(),
        "PREFECT_API_URL": prefect_server,
        "REWARDS_LEDGER_URL": f"sqlite:///{work / 'ledger.db'}",
        "REWARDS_REPORTS_DIR": str(work / "reports"),
    }


def test_a_dry_run_prints_the_cost_and_the_rows_sent_before(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    env = team_env(sandbox, prefect_server, tmp_path)
    first = write_csv(tmp_path / "first.csv", recipients(campaign, 2))
    code, out = rewards("run", str(first), env=env)
    assert code == 0, out
    assert "Completed: 2 sent" in out
    bigger = write_csv(tmp_path / "bigger.csv", recipients(campaign, 5))
    code, out = rewards("run", str(bigger), "--dry-run", env=env)
    assert code == 0, out
    assert "dry run: 3 would be sent, 2 sent before" in out
    assert "3 row(s) to send for 15.00 USD; balance" in out
    assert "rows sent before (2):" in out
    assert "row 2: sent before in batch" in out and "first.csv" in out and "COMPLETE" in out


def test_a_run_says_its_warnings_as_validate_does(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    """A correction typed under the list (the same person and reward at another amount) was
    warned of by `rewards validate` only: `rewards run` and its dry run said "2 sent", and
    both rewards were paid. The run prints the warning too."""
    env = team_env(sandbox, prefect_server, tmp_path)
    rows = recipients(campaign, 2)
    rows.append({**rows[0], "Amount": "7"})
    code, out = rewards("run", str(write_csv(tmp_path / "fix.csv", rows)), "--dry-run", env=env)
    assert code == 0 and "1 warning(s); these rows are valid and go on:" in out, out
    assert "row 4: amount: the same recipient and reward as row 2, at another amount" in out


def test_a_corrected_name_does_not_send_a_second_reward(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    """A row sent as "Jon", sent again in a file where the office fixed the name to "John":
    the same reward to the same email. It is reported as sent before under another name, not
    sent twice; a row key (or another campaign) is how to mean a second reward."""
    env = team_env(sandbox, prefect_server, tmp_path)
    first = recipients(campaign, 2)
    first[0]["First Name"] = "Jon"
    code, out = rewards("run", str(write_csv(tmp_path / "first.csv", first)), env=env)
    assert code == 0 and "Completed: 2 sent" in out, out
    fixed = recipients(campaign, 3)
    fixed[0]["First Name"] = "John"
    code, out = rewards("run", str(write_csv(tmp_path / "fixed.csv", fixed)), env=env)
    assert code == 0, out
    assert "Completed: 1 sent, 2 already sent" in out, out
    reports = sorted((tmp_path / "reports").glob("*/report.csv"), key=lambda p: p.stat().st_mtime)
    second = pd.read_csv(reports[-1], dtype=str).set_index("row_number")
    assert second.loc["2", "outcome"] == "already_sent"
    assert "another name" in second.loc["2", "reason"] and "first.csv" in second.loc["2", "reason"]


def test_a_killed_rewards_run_shows_crashed(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    """``rewards run`` on a team's Prefect server, killed with SIGKILL while it waits for
    approval: the run shows Crashed within minutes, not Running forever (the run sends
    heartbeats, and rewards run makes sure the automation that watches them exists)."""
    import signal
    import time

    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.exceptions import ObjectNotFound

    from deployments.zombies import NAME
    from tests.helpers import wait_for

    with contextlib.suppress(ObjectNotFound, ValueError):  # the command must make it itself
        Automation.read(name=NAME).delete()

    env = {
        **team_env(sandbox, prefect_server, tmp_path),
        "REWARDS_APPROVAL_THRESHOLD": "1",  # it pauses, and waits for a person
        "REWARDS_SILENT_RUN_SECONDS": "40",
    }

    name = f"killed-{campaign}.csv"
    path = write_csv(tmp_path / name, recipients(campaign, 2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "run", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def run_state() -> str:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
        return runs[0].state.type.value if runs and runs[0].state else ""

    try:
        wait_for(lambda: run_state() == "PAUSED", timeout=90)
        time.sleep(2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert Automation.read(name=NAME).enabled
    wait_for(lambda: run_state() == "CRASHED", timeout=240, interval=2)


def test_an_unreachable_prefect_server_is_exit_2_and_one_line(sandbox: SandboxServer) -> None:
    from sandbox.server import free_port

    env = {
        **os.environ,
        **sandbox.tango_env(),
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",  # nothing listens there
    }
    code, out = rewards("run", str(ROOT / "data" / "sample_recipients.csv"), env=env)
    assert code == 2, out
    assert "PREFECT_API_URL" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out


def test_an_actions_file_given_to_rewards_run_is_exit_2_and_points_to_manage(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """An actions spreadsheet (a report's failed_deliveries.csv, say) is no recipients file:
    nothing is sent, and the one line says which command takes it."""
    env = team_env(sandbox, prefect_server, tmp_path)
    path = tmp_path / "fixes.csv"
    path.write_text(
        "action,line_id,new_email,reason_code\n"
        "resend,RA261130-000001-46-0001,bob@example.com,DELIVERY_INFO\n",
        encoding="utf-8",
    )
    code, out = rewards("run", str(path), env=env)
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1, out
    assert f"rewards manage {path}" in out and "Traceback" not in out, out
    assert not (tmp_path / "reports").exists()  # nothing was run


def test_rows_tango_refused_are_sent_by_the_next_run_once_the_cause_is_fixed(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    """An order too large for Tango (a 400: nothing exists there) is no row sent: the run
    says so and exits 1, and the same file run again with a size Tango takes sends every
    row, once (they were stuck for good, "600 failed", exit 0, books "balanced")."""
    env = team_env(sandbox, prefect_server, tmp_path)
    path = write_csv(tmp_path / "many.csv", recipients(campaign, 510, Amount="1"))
    code, out = rewards("run", str(path), "--chunk", "1000", env=env)
    assert code == 1, out
    assert "Tango refused 510 row(s)" in out and "run the same file again" in out, out
    with sandbox.engine.store.tx() as c:
        at_tango = c.execute("SELECT COUNT(*) FROM orders WHERE campaign=?", (campaign,))
        assert at_tango.fetchone()[0] == 0
    code, out = rewards("run", str(path), env=env)
    assert code == 0 and "Completed: 510 sent" in out, out
    code, out = rewards("run", str(path), env=env)  # and again: nothing new goes out
    assert code == 0, out

    with sandbox.engine.store.tx() as c:
        lines = c.execute(
            "SELECT COUNT(*), COUNT(DISTINCT l.external_ref_line_item_id) FROM line_items l "
            "JOIN orders o ON o.reference_order_id = l.reference_order_id WHERE o.campaign=?",
            (campaign,),
        ).fetchone()
    assert tuple(lines) == (510, 510)


def test_a_file_whose_every_row_is_rejected_ends_failed_not_completed(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    """Some rows rejected: the others go, Completed, exit 0 (the rejected ones are in the
    report). Every row rejected: nothing went, so the run failed, exit 1 (it was Completed,
    exit 0)."""
    env = team_env(sandbox, prefect_server, tmp_path)
    rows = recipients(campaign, 2)
    rows[1]["Amount"] = "twenty"
    code, out = rewards("run", str(write_csv(tmp_path / "some.csv", rows)), env=env)
    assert code == 0 and "Completed: 1 sent, 1 rejected" in out, out

    bad = [{**r, "Amount": "-5"} for r in recipients(campaign, 2, start=10)]
    code, out = rewards("run", str(write_csv(tmp_path / "all_bad.csv", bad)), env=env)
    assert code == 1 and "Failed: every row (2) was rejected, so nothing was sent" in out, out


def test_links_are_for_the_batch_s_newest_report(tmp_path: Path) -> None:
    """A batch run again (a retry, the same rewards from another file) keeps each report in
    its own folder; `rewards links BATCH` signs the newest one's files."""
    import base64

    reports = tmp_path / "reports"
    for name in ("b0a1", "b0a1-20261130T070000000001", "b0a1-20261130T080000000002"):
        (reports / name).mkdir(parents=True)
        (reports / name / "report.csv").write_text("row_number,outcome\n")
    env = {
        **os.environ,
        "REWARDS_REPORTS_DIR": str(reports),
        "REWARDS_REPORTS_URL": "http://127.0.0.1:9/reports",
        "REWARDS_REPORTS_KEY": base64.urlsafe_b64encode(b"k" * 32).decode(),
    }
    code, out = rewards("links", "b0a1", env=env)
    assert code == 0, out
    (link,) = out.split()
    assert "/b0a1-20261130T080000000002/report.csv" in link
    code, out = rewards("links", "b0a2", env=env)
    assert code == 2 and out.strip().endswith(f"b0a2: no such batch under {reports}"), out


def test_links_work_with_the_key_serve_made_and_a_bad_key_gets_one_line(tmp_path: Path) -> None:
    """`rewards serve` with no REWARDS_REPORTS_KEY makes one and keeps it in the reports
    folder: `rewards links` then signs with it (links that the file server opens), and needs
    no URL (serve's own file server, REWARDS_REPORTS_PORT). A key that is not one: one line."""
    import httpx

    from deployments.report_server import create_app
    from rewards.links import KEY_FILE, decode_key, installation_key
    from sandbox.server import ThreadedServer

    reports = tmp_path / "reports"
    (reports / "b0a1").mkdir(parents=True)
    (reports / "b0a1" / "report.csv").write_text("row_number,outcome\n2,complete\n")
    made = installation_key(reports)  # what serve does when no key is set
    assert oct((reports / KEY_FILE).stat().st_mode & 0o777) == "0o600"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_REPORTS_")}
    with ThreadedServer(create_app(reports, decode_key(made))) as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        code, out = rewards(
            "links",
            "b0a1",
            env={**env, "REWARDS_REPORTS_DIR": str(reports), "REWARDS_REPORTS_PORT": port},
        )
        assert code == 0, out
        (link,) = out.split()
        assert link.startswith(f"http://127.0.0.1:{port}/files/b0a1/report.csv?")
        assert httpx.get(link).text.startswith("row_number,outcome")

    bad = {**env, "REWARDS_REPORTS_DIR": str(reports), "REWARDS_REPORTS_KEY": "not-a-key!"}
    code, out = rewards("links", "b0a1", env=bad)
    assert code == 2 and "Traceback" not in out, out
    assert out.strip().startswith("error: REWARDS_REPORTS_KEY is not a key"), out


def test_the_demo_runs_as_make_demo_runs_it(tmp_path: Path) -> None:
    """The main job on the embedded default, as a newcomer starts it: no Prefect server (a
    temporary one starts), no Tango settings (the local sandbox), exit 0, where the report is."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TANGO_", "REWARDS_"))
    }
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "REWARDS_REPORTS_DIR": str(tmp_path),
        "REWARDS_DEMO_DIR": str(tmp_path / "demo"),
    }

    def run(command: list[str]) -> tuple[int, str]:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        return done.returncode, done.stdout + done.stderr

    code, said = run([sys.executable, "-m", "deployments.cli", "demo"])
    assert code == 0, said[-3000:]
    assert "Local Tango sandbox" in said and f"Reports are under {tmp_path}" in said, said[-3000:]
    assert "Traceback" not in said
    assert list(tmp_path.glob("*/report.csv")), said[-3000:]

    # it ends with the command that resends its failed delivery: type the address, run it
    command = said.strip().splitlines()[-2].strip()
    assert command.startswith(".venv/bin/rewards demo --manage "), said[-1500:]
    failed = Path(command.split()[-1])
    fix = pd.read_csv(failed, dtype=str, keep_default_na=False)
    fix["new_email"] = "someone.else@example.com"
    fix.to_csv(failed, index=False)
    code, said = run(shlex.split(command))
    assert code == 0 and "1 done" in said and "Traceback" not in said, said[-3000:]
    code, said = run(shlex.split(command))  # nothing twice
    assert code == 0 and "1 done before" in said, said[-3000:]


def test_a_run_on_a_temporary_prefect_server_prints_no_traceback(
    sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    """`rewards run` with no Prefect server set: a temporary one starts. Its telemetry (no
    internet here) failed on the temporary server's SQLite and printed a 40-line "database is
    locked" traceback over a run that went well (seen in one run of two)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REWARDS_"))}
    env |= {
        **sandbox.tango_env(),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "REWARDS_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "REWARDS_REPORTS_DIR": str(tmp_path / "reports"),
    }
    source = write_csv(tmp_path / "few.csv", recipients(campaign, 2))
    code, out = rewards("run", str(source), "--dry-run", env=env)
    assert code == 0 and "dry run: 2 would be sent" in out, out
    assert "Traceback" not in out and "database is locked" not in out, out
