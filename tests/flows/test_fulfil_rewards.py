"""fulfil-rewards end to end: the Prefect test harness, the sandbox over HTTP, real files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flows.fulfil_rewards import fulfil_rewards
from rewards.errors import RewardsError
from rewards.summary import summary_of
from sandbox import SandboxServer
from tests.flows.conftest import recipients, write_csv
from tests.helpers import artifacts_of


def run(path: Path, **params: Any):
    state = fulfil_rewards(
        source_path=str(path), poll_interval_seconds=0.1, **params, return_state=True
    )
    summary = summary_of(state.result(raise_on_failure=False))
    return state, summary.flat() if summary else None


def sandbox_lines(sandbox: SandboxServer, campaign: str) -> pd.DataFrame:
    with sandbox.engine.store.tx() as c:
        rows = c.execute(
            "SELECT l.external_ref_line_item_id AS id, l.status, o.external_ref_id AS ref "
            "FROM line_items l JOIN orders o ON o.reference_order_id = l.reference_order_id "
            "WHERE o.campaign = ?",
            (campaign,),
        ).fetchall()
    return pd.DataFrame([dict(r) for r in rows], columns=["id", "status", "ref"])


def balance(sandbox: SandboxServer, account: str = "sandbox-usd") -> str:
    with sandbox.engine.store.tx() as c:
        return c.execute(
            "SELECT balance FROM accounts WHERE account_identifier=?", (account,)
        ).fetchone()[0]


def test_sample_file_end_to_end(env: Path, sandbox: SandboxServer) -> None:
    from prefect.client.orchestration import get_client

    from deployments.demo import _fresh_sample

    sample = _fresh_sample(env)
    state, out = run(sample)
    assert state.is_completed(), state.message
    assert out["balanced"] is True
    assert (out["rows_in"], out["rejected"], out["submitted"]) == (50, 4, 46)
    assert (out["complete"], out["failed"], out["scheduled"]) == (44, 1, 1)
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str)
    assert len(report) == 50 and report["row_number"].is_unique
    assert set(report["Department"]) >= {"Sales", "Engineering"}  # unknown column carried
    rejected = pd.read_csv(Path(out["report_dir"]) / "rejected_rows.csv", dtype=str)
    assert rejected["row_number"].tolist() == ["48", "49", "50", "51"]
    assert "email" in rejected.loc[0, "problems"]
    assert (Path(out["report_dir"]) / "report.xlsx").exists()
    failed = pd.read_csv(Path(out["report_dir"]) / "failed_deliveries.csv", dtype=str)
    assert failed["action"].tolist() == ["resend"] and failed["new_email"].isna().all()
    results = artifacts_of(state.state_details.flow_run_id)
    keys = {a.key for a in results if a.key}
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)

    assert "account:sandbox-usd" in flow_run.tags and flow_run.name == sample.name

    table = next(a for a in results if a.key == f"fulfil-{out['batch'].lower()}-results")
    rows = json.loads(table.data)
    assert rows[0]["name"] == "Ada Lovelace" and rows[0]["contact"] == "a***@example.com"
    # a table on a web page, not a spreadsheet: no apostrophe in front of a phone number
    texts = {r["contact"] for r in rows if r["delivery_method"] == "PHONE"}
    assert "+14*******03" in texts and not any(t.startswith("'") for t in texts)

    assert {"external_ref_id", "reference_line_item_id", "scheduled_delivery_date"} <= set(rows[0])
    assert table.flow_run_id == flow_run.id  # on the run's page

    batch = out["batch"].lower()
    assert {
        f"fulfil-{batch}-summary",
        f"fulfil-{batch}-results",
        f"fulfil-{batch}-problems",
        f"fulfil-{batch}-files",
    } <= keys


def test_same_file_twice_sends_nothing_new(env: Path, sandbox, campaign) -> None:
    path = write_csv(env / "twice.csv", recipients(campaign, 7))
    first_state, first = run(path, max_line_items_per_order=3)
    assert first_state.is_completed() and first["complete"] == 7
    before = balance(sandbox)
    second_state, second = run(path, max_line_items_per_order=3)
    assert second_state.is_completed(), second_state.message
    assert second["complete"] == 7 and second["balanced"]
    lines = sandbox_lines(sandbox, campaign)
    assert len(lines) == 7 and lines["id"].is_unique and lines["ref"].nunique() == 3
    assert balance(sandbox) == before


def test_the_same_rows_in_another_file_are_already_sent(env: Path, sandbox, campaign) -> None:
    run(write_csv(env / "a.csv", recipients(campaign, 4)))
    state, out = run(write_csv(env / "b.csv", recipients(campaign, 6)))  # 4 old + 2 new
    assert state.is_completed()
    assert (out["already_sent"], out["complete"]) == (4, 2)
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str)
    reasons = report.loc[report["outcome"] == "already_sent", "reason"]
    assert reasons.str.contains("a.csv").all()
    assert len(sandbox_lines(sandbox, campaign)) == 6


def test_crash_after_some_orders_then_rerun_sends_each_reward_once(
    env: Path, sandbox: SandboxServer, campaign: str
) -> None:
    path = write_csv(env / "crash.csv", recipients(campaign, 10))
    sandbox.admin.post("/faults", json={"orders_before_outage": 2})
    # the outage outlasts the run's own timeout: the run gives up, and says what to do
    state, _ = run(path, max_line_items_per_order=2, submit_concurrency=1, timeout_seconds=3)
    assert state.is_failed() and "run the same file again" in state.message, state.message
    assert sandbox_lines(sandbox, campaign)["ref"].nunique() == 2  # 2 of 5 orders got through
    # ...and it says which: a report of what reached Tango and what did not
    assert (
        "4 sent" in state.message and "6 not sent" in state.message and "report:" in state.message
    )
    folder = Path(state.message.rsplit("report: ", 1)[1])
    outcomes = pd.read_csv(folder / "report.csv", dtype=str)["outcome"].value_counts().to_dict()
    assert outcomes == {"complete": 4, "not_submitted": 6}

    sandbox.admin.post("/faults", json={})
    state, out = run(path, max_line_items_per_order=2, submit_concurrency=1)
    assert state.is_completed(), state.message
    assert out["complete"] == 10 and out["balanced"]
    lines = sandbox_lines(sandbox, campaign)
    assert len(lines) == 10 and lines["id"].is_unique


def test_corrected_reupload_sends_only_the_fixed_rows(env: Path, sandbox, campaign) -> None:
    rows = recipients(campaign, 5)
    rows[1]["Amount"] = "abc"
    rows[3]["Email"] = "not-an-email"
    state, out = run(write_csv(env / "v1.csv", rows))
    assert state.is_completed() and (out["complete"], out["rejected"]) == (3, 2)
    rows[1]["Amount"] = "5.00"
    rows[3]["Email"] = "p3@example.com"
    state, out = run(write_csv(env / "v2.csv", rows))
    assert state.is_completed()
    assert (out["already_sent"], out["complete"], out["rejected"]) == (3, 2, 0)
    assert len(sandbox_lines(sandbox, campaign)) == 5


def test_insufficient_balance_sends_nothing(
    env: Path, sandbox, campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = balance(sandbox, "sandbox-low")
    path = write_csv(env / "big.csv", recipients(campaign, 3, Amount="30.00"))
    state, out = run(path, account_identifier="sandbox-low")
    assert state.is_failed()
    assert "costs 90.00 USD" in state.message and "short by" in state.message
    assert out["not_submitted"] == 3 and out["cost"].cost == 90
    assert sandbox_lines(sandbox, campaign).empty
    assert balance(sandbox, "sandbox-low") == before


def test_all_or_nothing_stops_on_any_rejection(env: Path, sandbox, campaign) -> None:
    rows = recipients(campaign, 4)
    rows[2]["UTID"] = "U999999"
    state, out = run(write_csv(env / "aon.csv", rows), all_or_nothing=True)
    assert state.is_failed() and "all_or_nothing" in state.message
    assert out["rejected"] == 1
    assert sandbox_lines(sandbox, campaign).empty
    assert (Path(out["report_dir"]) / "rejected_rows.csv").exists()


def test_dry_run_previews_and_lists_already_sent(env: Path, sandbox, campaign) -> None:
    run(write_csv(env / "first.csv", recipients(campaign, 2)))
    state, out = run(write_csv(env / "next.csv", recipients(campaign, 5)), dry_run=True)
    assert state.is_completed()
    assert (out["would_send"], out["sent_before"]) == (3, 2)
    assert str(out["cost"].cost) == "15.00"
    assert len(sandbox_lines(sandbox, campaign)) == 2
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str)
    assert (report["outcome"] == "sent_before").sum() == 2
    assert report["reason"].str.contains("dry run: would be sent").sum() == 3


def test_a_dry_run_ends_as_the_real_run_would(env: Path, sandbox, campaign) -> None:
    """With all_or_nothing and a rejected row, the dry run said "2 would be sent" and exit 0,
    the real run sent nothing and failed: the dry run says where the real run would stop,
    and fails as it would."""
    rows = recipients(campaign, 3)
    rows[2]["UTID"] = "nope"
    path = write_csv(env / "aon.csv", rows)
    state, out = run(path, dry_run=True, all_or_nothing=True)
    assert state.is_failed() and "the real run would stop: all_or_nothing" in state.message
    assert out["would_send"] == 2 and "dry-run-" in out["report_dir"], out
    state, _ = run(path, dry_run=True)  # without the gate: the rows that can go, go
    assert state.is_completed(), state.message
    assert len(sandbox_lines(sandbox, campaign)) == 0


def test_scheduled_and_failed_rows_are_reported(env: Path, sandbox, campaign) -> None:
    when = (datetime.now(UTC).date() + timedelta(days=12)).isoformat()
    rows = recipients(campaign, 3)
    rows[0].update({"UTID": "U100008", "Delivery Date": when})
    rows[1]["Email"] = "nobody@fail.example.com"
    header = [*list(rows[0].keys())]
    # a dry run's report says the date each row would be scheduled for (it was empty)
    state, out = run(write_csv(env / "mix.csv", rows, header=header), dry_run=True)
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str)
    assert report["scheduled_delivery_date"].fillna("").tolist() == [when, "", ""], report
    state, out = run(write_csv(env / "mix.csv", rows, header=header))
    assert state.is_completed()
    assert (out["scheduled"], out["failed"], out["complete"]) == (1, 1, 1)
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str)
    assert report["scheduled_delivery_date"].fillna("").str[:10].tolist() == [when, "", ""]
    failed = report[report["outcome"] == "failed"].iloc[0]
    assert failed["amount_charged"] == "0.00" or float(failed["amount_charged"]) == 0
    assert "fail.example.com" in failed["reason"]


def test_a_run_whose_rewards_are_all_scheduled_ends(env: Path, sandbox, campaign) -> None:
    """Reward links all scheduled for later (dates typed as dates in a workbook): the order was
    accepted and charged, then the run waited for it without end (a trial killed it after
    300 s); an order holding only scheduled lines is as final as it gets before their day."""
    rows = recipients(campaign, 2)
    for i, row in enumerate(rows):
        day = datetime.now(UTC).date() + timedelta(days=19 + i)
        row.update({"UTID": "U100008", "Delivery Method": "link", "Delivery Date": day.isoformat()})
        row["Email"] = ""
    state, out = run(write_csv(env / "later.csv", rows, header=[*rows[0].keys()]))
    assert state.is_completed(), state
    assert (out["scheduled"], out["complete"]) == (2, 0), out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"UTID,Amount,Delivery Method\n", "header row but no recipient rows"),
        (b"Name,Email\nAda,ada@example.com\n", "missing required column"),
        (b"PK\x03\x04garbage", "ZIP or Excel file"),
    ],
)
def test_unusable_files_fail_with_a_clear_message(
    env: Path, sandbox, content: bytes, message: str
) -> None:
    path = env / "bad.csv"
    path.write_bytes(content)
    state, _ = run(path)
    assert state.is_failed()
    assert message in state.message and "bad.csv" in state.message


def test_utf16_and_cp1252_files_are_read(env: Path, sandbox, campaign) -> None:
    rows = recipients(campaign, 2, **{"First Name": "Zoë"})
    plain = write_csv(env / "plain.csv", rows).read_text(encoding="utf-8")
    (env / "u16.csv").write_text(plain, encoding="utf-16")
    state, out = run(env / "u16.csv")
    assert state.is_completed() and out["complete"] == 2
    rows = recipients(campaign, 2, start=10, **{"First Name": "Renée"})
    (env / "win.csv").write_bytes(write_csv(env / "tmp.csv", rows).read_text().encode("cp1252"))
    state, out = run(env / "win.csv")
    assert state.is_completed() and out["complete"] == 2


def test_xlsx_with_several_sheets_reads_the_named_one(env: Path, sandbox, campaign) -> None:
    """A sheet named is the sheet read; none named: the one sheet with recipients."""
    path = env / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"Notes": ["read me"]}).to_excel(xl, sheet_name="Notes", index=False)
        pd.DataFrame(recipients(campaign, 3)).to_excel(xl, sheet_name="Recipients", index=False)
    state, _ = run(path, sheet_name="Notes")
    assert state.is_failed() and "missing required column" in state.message
    state, out = run(path)
    assert state.is_completed() and out["complete"] == 3


def test_progress_is_reported_while_sending(env: Path, sandbox, campaign) -> None:
    from rewards import progress

    seen: list[tuple[str, int, int]] = []
    with progress.watching(lambda step, done, total: seen.append((step, done, total))):
        state, out = run(
            write_csv(env / "bar.csv", recipients(campaign, 6)), max_line_items_per_order=2
        )
    assert state.is_completed() and out["complete"] == 6
    submitted = [s for s in seen if s[0] == "orders submitted"]
    finished = [s for s in seen if s[0] == "orders finished"]
    assert submitted[-1] == ("orders submitted", 3, 3)
    assert finished[-1] == ("orders finished", 3, 3)
    assert [d for _, d, _ in finished] == sorted(d for _, d, _ in finished)  # never goes back


def test_tango_down_for_a_while_mid_run_costs_time_not_the_run(
    env: Path, tmp_path: Path, campaign: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox stopped once the first order is in, and started again 12 s later on the same
    port and database: the rest is submitted and awaited, each reward once."""
    import threading

    from sqlalchemy import select

    from rewards.ledger import Ledger, OrderState, orders
    from sandbox import SandboxConfig
    from tests.conftest import point_tango_at
    from tests.helpers import wait_for

    config = SandboxConfig(db_path=tmp_path / "outage.db", fulfil_latency_s=0.2)
    first = SandboxServer(config).start()
    point_tango_at(first, monkeypatch)  # TANGO_MAX_ATTEMPTS=2: the client alone gives up fast
    from tasks.tango import forget

    forget()
    box: dict = {}
    path = write_csv(env / "outage.csv", recipients(campaign, 10))
    thread = threading.Thread(
        target=lambda: box.update(
            zip(
                ("state", "out"),
                run(path, max_line_items_per_order=2, submit_concurrency=1, timeout_seconds=120),
                strict=True,
            )
        )
    )
    thread.start()

    def accepted() -> bool:  # the ledger's word: the sandbox's own lock stays free
        book = Ledger(f"sqlite:///{env / 'ledger.db'}")
        try:
            with book.engine.connect() as conn:
                states = {r.state for r in conn.execute(select(orders.c.state))}
            return OrderState.ACCEPTED in states
        finally:
            book.close()

    wait_for(accepted, timeout=60, interval=0.2)
    first.stop()
    time.sleep(12)
    second = SandboxServer(
        SandboxConfig(db_path=config.db_path, fulfil_latency_s=0.2), port=first.port
    )
    with second:
        thread.join(120)
        state, out = box["state"], box["out"]
        assert state.is_completed(), state.message
        assert out["complete"] == 10 and out["balanced"]
        with second.engine.store.tx() as c:
            ids = [r[0] for r in c.execute("SELECT external_ref_line_item_id FROM line_items")]
    assert len(ids) == 10 == len(set(ids))


def test_an_outage_while_submitting_is_ridden_out(env: Path, sandbox, campaign) -> None:
    """POST /asyncOrders answers 503 after the first order, for 12 s (the client alone gives up
    after 2 attempts here): the run keeps retrying with the same externalRefIDs, then sends
    the rest, each reward once."""
    import threading

    path = write_csv(env / "busy.csv", recipients(campaign, 10))
    sandbox.admin.post("/faults", json={"orders_before_outage": 1})
    lifted = threading.Timer(12, lambda: sandbox.admin.post("/faults", json={}))
    lifted.start()
    try:
        state, out = run(path, max_line_items_per_order=2, submit_concurrency=1)
    finally:
        lifted.cancel()
    assert state.is_completed(), state.message
    assert out["complete"] == 10 and out["balanced"]
    lines = sandbox_lines(sandbox, campaign)
    assert len(lines) == 10 and lines["id"].is_unique and lines["ref"].nunique() == 5


def _ledger_rows(env: Path) -> dict[str, int]:
    from sqlalchemy import func, select

    from rewards.ledger import Ledger, metadata

    book = Ledger(f"sqlite:///{env / 'ledger.db'}")
    try:
        with book.engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables
            }
    finally:
        book.close()


def test_a_dry_run_of_a_sent_file_lists_what_was_sent_and_changes_nothing(
    env: Path, sandbox, campaign
) -> None:
    path = write_csv(env / "sent.csv", recipients(campaign, 5))
    state, out = run(path)
    assert state.is_completed() and out["complete"] == 5
    folder = Path(out["report_dir"])
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    rows_before = _ledger_rows(env)

    state, dry = run(path, dry_run=True)
    assert state.is_completed(), state.message
    assert (dry["sent_before"], dry["would_send"]) == (5, 0)
    assert "5 sent before" in state.message and "0 row(s) to send" in state.message
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before  # the real report
    assert _ledger_rows(env) == rows_before
    assert Path(dry["report_dir"]) != folder
    report = pd.read_csv(Path(dry["report_dir"]) / "report.csv", dtype=str)
    reasons = report["reason"]
    assert (
        reasons.str.contains("sent before in batch").all()
        and reasons.str.contains("sent.csv").all()
    )
    assert reasons.str.contains("COMPLETE").all()  # with its status at Tango


def test_a_dry_run_of_a_new_file_says_what_would_be_sent_not_that_it_failed(
    env: Path, sandbox, campaign
) -> None:
    state, dry = run(write_csv(env / "new.csv", recipients(campaign, 3)), dry_run=True)
    assert state.is_completed() and (dry["would_send"], dry["submitted"]) == (3, 0)
    folder = Path(dry["report_dir"])
    summary = (folder / "summary.md").read_text()
    assert "| 3 | 0 | 0 | 3 | 0 |" in summary  # rows in, rejected, sent before, would send, ...
    assert "failed" not in summary.lower()
    assert pd.read_csv(folder / "by_method.csv").empty  # nothing was submitted
    assert _ledger_rows(env)["line_items"] == 0 and len(sandbox_lines(sandbox, campaign)) == 0


def test_the_same_rows_from_another_file_keep_the_first_file_s_report(
    env: Path, sandbox, campaign
) -> None:
    """The same rewards, another file (rows reordered, a bad row added): the same batch, so
    nothing is sent again; the first file's report stays as it was, and the second gets its
    own folder, naming its own file and row numbers."""
    rows = recipients(campaign, 4)
    state, first = run(write_csv(env / "march.csv", rows))
    assert state.is_completed() and first["complete"] == 4
    folder = Path(first["report_dir"])
    before = {f.name: f.read_bytes() for f in folder.iterdir()}

    again = [rows[2], {**rows[0], "Email": "not-an-email"}, rows[3], rows[1], rows[0]]
    state, second = run(write_csv(env / "march-fixed.csv", again))
    assert state.is_completed() and second["batch"] == first["batch"]
    assert state.message.startswith("nothing new sent (an earlier run of this batch sent them)")
    assert "this run sent 0; 4 row(s) were sent by an earlier run" in state.message
    summary = (Path(second["report_dir"]) / "summary.md").read_text()
    assert summary.startswith("# Nothing new sent: an earlier run of this batch sent these rows")

    assert (second["rejected"], second["sent_before"] + second["complete"]) == (1, 4)
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    assert Path(second["report_dir"]) != folder
    assert Path(second["report_dir"]).name.startswith(first["batch"])
    assert "march-fixed.csv" in (Path(second["report_dir"]) / "summary.md").read_text()
    assert len(sandbox_lines(sandbox, campaign)) == 4


def test_a_dry_run_above_the_threshold_says_the_real_run_will_wait_for_approval(
    env: Path, sandbox, campaign
) -> None:
    state, dry = run(
        write_csv(env / "big.csv", recipients(campaign, 5)), dry_run=True, approval_threshold=20
    )
    assert state.is_completed()
    said = "sending them will wait for approval: 25.00 USD is above the threshold of 20.00 USD"
    assert said in state.message
    assert said in (Path(dry["report_dir"]) / "summary.md").read_text()
    table = next(
        a
        for a in artifacts_of(state.state_details.flow_run_id)
        if (a.key or "").endswith("-results")
    )
    assert table.description.startswith("Who would get what (dry run: nothing was sent)")

    state, dry = run(write_csv(env / "small.csv", recipients(campaign, 2)), dry_run=True)
    assert state.is_completed() and "approval" not in state.message


def test_tango_down_when_the_run_starts_is_waited_out(
    env: Path, tmp_path: Path, campaign: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload that lands while Tango is away (for 8 s) is not lost: the run waits."""
    import threading

    from sandbox import SandboxConfig
    from tasks.tango import forget
    from tests.conftest import point_tango_at

    config = SandboxConfig(db_path=tmp_path / "late.db", fulfil_latency_s=0.05)
    first = SandboxServer(config).start()
    point_tango_at(first, monkeypatch)
    forget()
    first.stop()  # down before the run starts
    box: dict = {}
    path = write_csv(env / "early.csv", recipients(campaign, 3))
    thread = threading.Thread(
        target=lambda: box.update(zip(("state", "out"), run(path), strict=True))
    )
    thread.start()
    time.sleep(8)
    with SandboxServer(SandboxConfig(db_path=config.db_path), port=first.port):
        thread.join(120)
    assert box["state"].is_completed(), box["state"].message
    assert box["out"]["complete"] == 3


def test_ctrl_c_and_chosen_endings_leave_no_engine_traceback_in_the_logs() -> None:
    """Prefect logs an ERROR with a traceback for any exception out of a run; for an ending the
    run chose or a Ctrl-C (already logged as "aborted by an interrupt signal") the filter on
    the flow-run logger drops it, and keeps every other error."""
    import logging
    import sys

    def record(message: str, error: BaseException) -> logging.LogRecord:
        try:
            raise error
        except BaseException:
            info = sys.exc_info()
        return logging.LogRecord("prefect.flow_runs", logging.ERROR, "", 0, message, (), info)

    allowed = logging.getLogger("prefect.flow_runs").filter
    base, unexpected = "Engine execution interrupted by base exception", "Engine execution exited"
    assert not allowed(record(base, KeyboardInterrupt()))
    assert not allowed(record(f"{unexpected} with unexpected exception", RewardsError("no")))
    assert allowed(record(base, SystemExit(1)))
    assert allowed(record(f"{unexpected} with unexpected exception", ValueError("a bug")))
