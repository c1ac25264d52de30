"""manage-rewards end to end: the Prefect test harness, the sandbox over HTTP, real files."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from flows.fulfil_rewards import fulfil_rewards
from flows.manage_rewards import manage_rewards
from raas import RaasClient
from rewards.ledger import ActionState, Ledger
from rewards.summary import RunStoppedError, summary_of
from sandbox import SandboxServer
from tests.conftest import make_settings
from tests.flows.conftest import recipients, write_csv
from tests.helpers import artifacts_of

BOUNCE = "fail.example.com"  # the sandbox refuses deliveries to this domain


def send(path: Path) -> dict[str, Any]:
    state = fulfil_rewards(source_path=str(path), poll_interval_seconds=0.1, return_state=True)
    summary = summary_of(state.result(raise_on_failure=False))
    assert summary is not None, state.message
    return summary.flat()


def manage(path: Path, **params: Any):
    state = manage_rewards(
        source_path=str(path), poll_interval_seconds=0.1, **params, return_state=True
    )
    result = state.result(raise_on_failure=False)
    summary = summary_of(result)
    report = None
    if summary and (Path(summary.report_dir) / "actions_report.csv").exists():
        report = pd.read_csv(
            Path(summary.report_dir) / "actions_report.csv", dtype=str, keep_default_na=False
        )
    return state, summary, report, result


def write_actions(path: Path, rows: list[dict[str, str]]) -> Path:
    header = sorted({k for r in rows for k in r})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def sent_lines(
    env: Path, campaign: str, n: int = 3, emails: dict[int, str] | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """``n`` rewards sent (``emails``: row index -> another address), and their report."""
    rows = recipients(campaign, n)
    for i, email in (emails or {}).items():
        rows[i]["Email"] = email
    out = send(write_csv(env / f"{campaign}.csv", rows))
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str, keep_default_na=False)
    return out, report


def test_a_bounced_email_fixed_in_failed_deliveries_is_resent_and_delivered(
    env: Path, sandbox: SandboxServer, client: RaasClient, campaign: str
) -> None:
    out, _ = sent_lines(env, campaign, emails={1: f"bob@{BOUNCE}"})
    assert out["failed"] == 1, out
    failed = Path(out["report_dir"]) / "failed_deliveries.csv"
    fix = pd.read_csv(failed, dtype=str, keep_default_na=False)
    assert fix[["action", "email", "new_email"]].values.tolist() == [
        ["resend", f"bob@{BOUNCE}", ""]
    ]
    line = fix.loc[0, "line_id"]
    fix.loc[0, "new_email"] = "bob@example.com"  # the one thing a person types
    fixed = env / "failed_deliveries.csv"
    fix.to_csv(fixed, index=False)

    state, _, report, _ = manage(fixed)
    assert state.is_completed(), state.message
    assert report is not None and report["outcome"].tolist() == ["done"]
    assert report.loc[0, "line_status"] == "COMPLETE", report.to_dict("records")
    assert float(report.loc[0, "cost"]) >= 5.0  # a failed line is charged again when resent
    detail = client.get_line_item(line)
    assert detail.status == "COMPLETE" and detail.recipient.email == "bob@example.com"
    assert len(detail.resendHistory) == 1

    # the same file again (a rerun, a second upload): nothing is done twice
    state, _, report, _ = manage(fixed)
    assert state.is_completed(), state.message
    assert report["outcome"].tolist() == ["done_before"]
    assert len(client.get_line_item(line).resendHistory) == 1

    # the original file again: the resent line counts as delivered, and the books balance;
    # the old failed_deliveries files go (uploaded again, they would resend to the bounce)
    again = send(env / f"{campaign}.csv")
    assert again["balanced"] is True and again["failed"] == 0, again
    assert again["already_sent"] + again["complete"] == 3
    assert not list(Path(again["report_dir"]).glob("failed_deliveries.*"))

    # the ledger keeps the action: who, when, Tango's answer; its line follows Tango
    book = Ledger(f"sqlite:///{env / 'ledger.db'}")
    [kept] = book.line_actions(line)
    assert kept.state is ActionState.DONE and kept.action == "resend" and kept.run_id
    assert "b***@example.com" in (kept.answer or "")

    # and the line's whole life, from the ledger and Tango: sent, failed, resent, delivered
    from rewards.history import line_history

    told = "\n".join(f"{e.at} {e.source} {e.what}" for e in line_history(book, client, line))
    assert "planned in batch" in told and f"{campaign}.csv row 3" in told, told
    assert "resend done" in told and "resent by EMAIL to b***@example.com" in told, told
    # the failure before the resend stays in it (Tango's line is COMPLETE now), dated
    [failure] = [e for e in line_history(book, client, line) if "delivery failed" in e.what]
    assert BOUNCE in failure.what and failure.at[:4].isdigit(), told
    assert "now: COMPLETE" in told and "bob@" not in told, told


def test_a_resend_by_text_names_the_number_it_went_to(
    env: Path, client: RaasClient, campaign: str
) -> None:
    """A resend by text of a line whose email bounced said "resent by PHONE to
    b***@fail.example.com" (the report, the history): it went to the number."""
    out, _ = sent_lines(env, campaign, 1, emails={0: f"bob@{BOUNCE}"})
    fix = pd.read_csv(Path(out["report_dir"]) / "failed_deliveries.csv", dtype=str)
    fix["new_mobile_number"], fix["new_delivery_method"] = "+14155550125", "sms"
    fix.to_csv(env / "texted.csv", index=False)
    state, _, report, _ = manage(env / "texted.csv")
    assert state.is_completed() and report["outcome"].tolist() == ["done"], state.message
    assert "resent by PHONE to +14*******25" in report.loc[0, "reason"], report.loc[0, "reason"]
    from rewards.history import line_history

    book = Ledger(f"sqlite:///{env / 'ledger.db'}")
    told = "\n".join(e.what for e in line_history(book, client, fix.loc[0, "line_id"]))
    assert "resent by PHONE to +14*******25" in told and BOUNCE not in told.split("resent")[1]


def test_a_resend_that_bounces_again_is_not_called_done(
    env: Path, sandbox: SandboxServer, client: RaasClient, campaign: str
) -> None:
    """failed_deliveries.csv run as it came (no new address): the resend goes to the address
    that bounced, fails again, and the run says so (Failed, exit 1 on the command line), not
    "done"; nothing is charged for it."""
    out, _ = sent_lines(env, campaign, emails={0: f"jo@{BOUNCE}"})
    failed = Path(out["report_dir"]) / "failed_deliveries.csv"
    state, summary, report, _ = manage(failed)
    assert not state.is_completed() and "1 failed again" in state.message, state.message
    assert report is not None and report["outcome"].tolist() == ["failed_again"]
    assert "the delivery failed again" in report.loc[0, "reason"]
    assert report.loc[0, "cost"] == ""
    assert summary.cost.cost == 0, summary.cost  # refunded: the run charged nothing
    # run again, it is done before, and still no success: its delivery failed
    state, _, report, _ = manage(failed)
    assert not state.is_completed() and report["outcome"].tolist() == ["failed_again"], (
        state.message
    )


def test_each_row_done_refused_or_invalid_with_its_reason(
    env: Path, client: RaasClient, campaign: str
) -> None:
    _, sent = sent_lines(env, campaign, 3)
    ids = sent["reference_line_item_id"].tolist()
    path = write_actions(
        env / "actions.csv",
        [
            {"action": "freeze", "line_id": ids[0], "reason_code": "FRAUD"},
            {"action": "unfreeze", "line_id": ids[1], "reason_code": "FRAUD"},  # not frozen
            {"action": "cancel", "line_id": ids[2], "reason_code": ""},  # no reason
            {"action": "cancel", "line_id": "nope", "reason_code": "DUPLICATE"},  # unknown line
            {
                "action": "cancel",
                "external_ref_line_item_id": sent.loc[2, "external_ref_line_item_id"],
                "reason_code": "OTHER",
                "other_reason": "sent twice by mistake",
            },
            # frozen by row 2 first: Tango judges it after row 2 (only a line's first action
            # is checked against its state beforehand)
            {"action": "resend", "line_id": ids[0], "reason_code": "REMINDER"},
        ],
    )
    state, summary, report, result = manage(path)
    assert state.is_failed() and isinstance(result, RunStoppedError), state.message
    by_row = report.set_index("row_number")
    assert by_row["outcome"].to_dict() == {
        "2": "done",
        "3": "invalid",  # its line's state refuses it: known before anything is asked
        "4": "invalid",
        "5": "invalid",
        "6": "done",
        "7": "refused",
    }
    assert (
        f"line {ids[1]} is COMPLETE (reward ACTIVE) and is not frozen" in by_row.loc["3", "reason"]
    )
    assert "LINE_ITEM_STATUS" in by_row.loc["7", "reason"]
    assert "reason_code" in by_row.loc["4", "reason"] and "nope" in by_row.loc["5", "reason"]
    assert by_row.loc["6", "line_id"] == ids[2]
    assert client.get_line_item(ids[0]).rewardStatus == "FROZEN"
    assert client.get_line_item(ids[2]).status == "CANCELLED"
    rejected = pd.read_csv(Path(summary.report_dir) / "rejected_actions.csv", dtype=str)
    assert rejected["row_number"].tolist() == ["3", "4", "5"]


def test_a_resend_whose_answer_was_lost_is_not_sent_again(
    env: Path, client: RaasClient, campaign: str
) -> None:
    """The run recorded the resend, Tango did it, and the process died before the ledger
    heard: the rerun finds the resend in the line's history and does not deliver it again."""
    from rewards import managing
    from rewards.columns import ACTION_COLUMNS
    from rewards.reading import read_sheet

    _, sent = sent_lines(env, campaign, 1)
    line = sent.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "resend.csv",
        [{"action": "resend", "line_id": line, "reason_code": "REMINDER"}],
    )
    book = Ledger(f"sqlite:///{env / 'ledger.db'}")
    account = client.get_account()
    sheet = read_sheet(path, ACTION_COLUMNS)
    checked = managing.check_sheet(
        client, book, sheet, managing.look_up(client, book, "sandbox-usd", sheet.frame), account
    )

    [action] = checked.actions
    managing.record(book, checked, "sandbox-usd", str(path))
    assert book.attempting(action.id, {"resends": 0}, "a-run-that-died", 0)
    client.resend_line_item(line, "REMINDER")  # reached Tango; the answer never came back

    state, _, report, _ = manage(path)
    assert state.is_completed(), state.message
    assert report["outcome"].tolist() == ["done_before"]
    assert "earlier attempt" in report.loc[0, "reason"]
    assert report["action_id"].tolist() == [action.id]  # the original action, once
    assert len(client.get_line_item(line).resendHistory) == 1
    # credited to the attempt that reached Tango, not to the rerun that found it
    [kept] = book.line_actions(line)
    assert (kept.action_id, kept.state) == (action.id, ActionState.DONE)
    assert kept.run_id == "a-run-that-died", kept
    assert kept.run_id != str(state.state_details.flow_run_id)


def test_a_dry_run_does_nothing_and_prices_a_reissue(
    env: Path, client: RaasClient, campaign: str
) -> None:
    _, sent = sent_lines(env, campaign, 1)
    line = sent.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "reissue.csv",
        [{"action": "reissue", "line_id": line, "amount": "8.00", "reason_code": "REWARD_AMOUNT"}],
    )
    state, summary, report, _ = manage(path, dry_run=True)
    assert state.is_completed(), state.message
    assert report["outcome"].tolist() == ["would_do"]
    assert "dry-run-" in summary.report_dir
    # the money trail: the new line charged, the old charge given back (the report said
    # nothing of the refund, and a reissue for less showed no cost at all)
    old = Decimal(sent.loc[0, "amount_charged"])
    assert Decimal(report.loc[0, "cost"]) >= Decimal("8.00"), report.loc[0].to_dict()
    assert Decimal(report.loc[0, "refunded"]) == old, (report.loc[0].to_dict(), old)
    assert summary.cost.cost == max(Decimal(report.loc[0, "cost"]) - old, Decimal(0))
    assert client.get_line_item(line).reissuedToReferenceLineItemId is None
    artifacts = json.dumps([summary.counts])
    assert "would_do" in artifacts


def test_a_dry_run_short_of_balance_ends_as_the_real_run_would(env: Path, campaign: str) -> None:
    """The dry run said "1 would be done; ... short by 15.00" and exit 0; the real run said
    "cannot pay" and exit 1: the dry run says where the real run would stop, and fails."""
    rows = recipients(campaign, 1)
    state = fulfil_rewards(
        source_path=str(write_csv(env / "low.csv", rows)),
        account_identifier="sandbox-low",
        poll_interval_seconds=0.1,
        return_state=True,
    )
    sent = summary_of(state.result(raise_on_failure=False))
    assert sent is not None and state.is_completed(), state.message
    report = pd.read_csv(Path(sent.report_dir) / "report.csv", dtype=str)
    line = report.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "big.csv",
        [{"action": "reissue", "line_id": line, "amount": "900", "reason_code": "REWARD_AMOUNT"}],
    )
    state, _, report, _ = manage(path, dry_run=True, account_identifier="sandbox-low")
    assert state.is_failed() and "the real run would stop: account sandbox-low" in state.message
    assert report["outcome"].tolist() == ["would_do"], report.to_dict("records")


def test_tango_did_the_resend_but_the_answer_was_lost_then_a_rerun(
    env: Path, sandbox: SandboxServer, client: RaasClient, campaign: str
) -> None:
    """Tango commits the resend and the answer is lost (504): not retried (it would deliver
    twice), reported not done; the rerun finds the resend at Tango and does not repeat it."""
    _, sent = sent_lines(env, campaign, 1)
    line = sent.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "lost.csv", [{"action": "resend", "line_id": line, "reason_code": "REMINDER"}]
    )
    sandbox.admin.post("/faults", json={"drop_next": 1})
    state, _, report, _ = manage(path)
    assert state.is_failed() and report["outcome"].tolist() == ["not_done"], state.message
    assert "run the same file again" in state.message
    assert len(client.get_line_item(line).resendHistory) == 1  # it did happen
    first_run, action = str(state.state_details.flow_run_id), report.loc[0, "action_id"]

    state, _, report, _ = manage(path)
    assert state.is_completed(), state.message
    assert report["outcome"].tolist() == ["done_before"]
    assert report["action_id"].tolist() == [action]
    assert len(client.get_line_item(line).resendHistory) == 1
    # done once, by the run whose request reached Tango
    [kept] = Ledger(f"sqlite:///{env / 'ledger.db'}").line_actions(line)
    assert (kept.action_id, kept.state, kept.run_id) == (action, ActionState.DONE, first_run)


def test_rewards_manage_on_the_command_line(
    env: Path, prefect_server: str, sandbox: SandboxServer, campaign: str
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import wait_for

    root = Path(__file__).resolve().parents[2]
    # a dead run's attempt is held for twice the timeout and a second: short here
    cli_env = {**os.environ, "PREFECT_API_URL": prefect_server, "TANGO_TIMEOUT_SECONDS": "3"}

    def rewards(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "deployments.cli", *args],
            cwd=root,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        return done.returncode, done.stdout + done.stderr

    out, _ = sent_lines(env, campaign, 2, emails={0: f"ann@{BOUNCE}"})
    fix = pd.read_csv(Path(out["report_dir"]) / "failed_deliveries.csv", dtype=str)
    # resent as it is: to the address that bounced, charged again; valid, but said
    fix.to_csv(env / "unfixed.csv", index=False)
    code, said = rewards("manage", str(env / "unfixed.csv"), "--dry-run")
    assert code == 0 and "1 would be done" in said, said
    assert "row 2: resend" in said and "goes to the same email address again" in said, said
    assert "1 action(s) to pay for 5.00 USD;" in said and "row(s) to send" not in said, said
    fix["new_email"] = "ann@example.com"
    fixed = env / "fixed.csv"
    fix.to_csv(fixed, index=False)

    code, said = rewards("manage", str(fixed), "--dry-run")
    assert code == 0 and "1 would be done" in said and "warning" not in said, said
    # a new number written as the office does, read in the country the run names
    texted = fix.assign(new_email="", new_mobile_number="07911 123456", new_delivery_method="sms")
    texted.to_csv(env / "texted.csv", index=False)
    code, said = rewards("manage", str(env / "texted.csv"), "--dry-run", "--phone-country", "GB")
    assert code == 0 and "1 would be done" in said, said
    code, said = rewards("manage", str(env / "texted.csv"), "--dry-run")
    assert code == 1 and "read in the default country, US" in said, said

    bad = write_actions(env / "bad.csv", [{"action": "resend", "line_id": fix.loc[0, "line_id"]}])
    code, said = rewards("manage", str(bad))
    assert code == 1 and "row 2: resend" in said and "reason_code" in said, said
    assert "Traceback" not in said

    code, said = rewards("manage", str(env / "missing.csv"))
    assert code == 2 and "missing.csv" in said and "Traceback" not in said, said

    # killed while Tango holds the resend's answer: the rerun finds it done, sends nothing
    sandbox.admin.post(
        "/faults", json={"drop_next": 1, "commit_then_drop_mode": "delay", "drop_delay_s": 30}
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "manage", str(fixed)],
        cwd=root,
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    line = fix.loc[0, "line_id"]
    probe = RaasClient(make_settings(sandbox))
    try:
        wait_for(lambda: probe.get_line_item(line).resendHistory, timeout=60, interval=0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    sandbox.admin.post("/faults", json={})
    code, said = rewards("manage", str(fixed))
    assert code == 0 and "1 done before" in said, said
    assert len(probe.get_line_item(line).resendHistory) == 1
    code, said = rewards("manage", str(fixed))
    assert code == 0 and "1 done before" in said, said
    assert len(probe.get_line_item(line).resendHistory) == 1

    # valid rows done and one invalid: done (exit 0, as rewards run with rejected rows), the
    # invalid row named with the file to fix
    mixed = pd.concat([fix, pd.DataFrame([{"action": "resend", "line_id": line}])])
    mixed.to_csv(env / "mixed.csv", index=False)
    code, said = rewards("manage", str(env / "mixed.csv"))
    assert code == 0 and "1 done before" in said and "1 invalid" in said, said
    assert "row 3: resend" in said and "rejected_actions.csv" in said, said

    code, said = rewards("history", line)

    assert code == 0 and "resent by EMAIL to a***@example.com" in said, said
    assert "ann@" not in said


def test_reissues_above_the_threshold_wait_for_approval(
    env: Path, client: RaasClient, campaign: str, prefect_server: str
) -> None:
    import threading

    from tests.flows.test_approval import answer, paused_run_of
    from tests.helpers import wait_for

    _, sent = sent_lines(env, campaign, 1)
    line = sent.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "bigger.csv",
        [{"action": "reissue", "line_id": line, "amount": "30", "reason_code": "REWARD_AMOUNT"}],
    )

    def run_and_answer(decision: str) -> tuple[Any, Any]:
        box: dict[str, Any] = {}

        def go() -> None:
            box["run"] = manage(path, approval_threshold="20")

        thread = threading.Thread(target=go)
        thread.start()
        run_id = wait_for(paused_run_of(path), timeout=60)

        answer(prefect_server, run_id, {"decision": decision, "approver": "Grace", "note": ""})
        thread.join(120)
        state, _, report, _ = box["run"]
        return state, report

    state, report = run_and_answer("reject")
    assert state.is_cancelled() and "rejected by Grace" in state.message, state.message
    assert report["outcome"].tolist() == ["not_done"]
    assert client.get_line_item(line).reissuedToReferenceLineItemId is None

    state, report = run_and_answer("approve")
    assert state.is_completed() and "approved by Grace" in state.message, state.message

    assert report["outcome"].tolist() == ["done"] and report.loc[0, "new_line_id"]
    new = client.get_line_item(report.loc[0, "new_line_id"])
    assert new.amountIssued.value == 30
    [kept] = Ledger(f"sqlite:///{env / 'ledger.db'}").line_actions(line)
    assert kept.approver == "Grace" and kept.state is ActionState.DONE

    # the original file again: the old line is cancelled, its replacement charged in the same
    # order at Tango, and the books still balance (the replacement is no row of the file)
    again = send(env / f"{campaign}.csv")
    assert again["balanced"] is True and again["cancelled"] == 1, again

    # the same actions file again: done before, so it costs nothing and asks nobody (it
    # asked Grace to approve 30.00 USD again, for nothing that would be done)
    state, summary, report, _ = manage(path, approval_threshold="20", approval_timeout_seconds=30)
    assert state.is_completed(), state.message
    assert report["outcome"].tolist() == ["done_before"] and report.loc[0, "cost"] == ""
    assert summary.cost.cost == 0, summary.cost


def test_a_replaced_line_is_not_reissued_again_and_the_report_follows_the_chain(
    env: Path, sandbox: SandboxServer, client: RaasClient, campaign: str
) -> None:
    """A second reissue of a line already replaced was reported done and charged 45.00 while
    Tango answered the first replacement and charged nothing; the batch's report named only
    the first replacement and its money table left out what the reissues charged."""
    _, sent = sent_lines(env, campaign, 2)
    old = sent.loc[0, "reference_line_item_id"]
    first = write_actions(
        env / "first.csv",
        [{"action": "reissue", "line_id": old, "amount": "7.00", "reason_code": "REWARD_AMOUNT"}],
    )
    assert manage(first)[0].is_completed()
    new = client.get_line_item(old).reissuedToReferenceLineItemId
    assert new
    balance = client.get_account().currentBalance

    again = write_actions(
        env / "again.csv",
        [{"action": "reissue", "line_id": old, "amount": "45", "reason_code": "REWARD_AMOUNT"}],
    )
    for dry in (True, False):
        state, summary, report, _ = manage(again, dry_run=dry)
        assert report["outcome"].tolist() == ["invalid"], report.to_dict("records")
        assert f"was reissued: line {new} replaces it, act on that" in report.loc[0, "reason"]
        assert summary.cost.cost == 0 and (dry or not state.is_completed()), state.message

    assert client.get_account().currentBalance == balance

    # Tango's side (the sandbox): the same reissue again answers its replacement (a retry
    # after a lost answer); one asking for something else is refused, naming it
    from raas import APIStatusError

    assert client.reissue_line_item(old, "REWARD_AMOUNT", amount=7).referenceLineItemID == new
    try:
        client.reissue_line_item(old, "REWARD_AMOUNT", amount=45)
        raise AssertionError("a reissue asking for another amount was not refused")
    except APIStatusError as exc:
        assert exc.http_code == 422 and "ALREADY_REISSUED" in str(exc.errors), exc
    assert client.get_account().currentBalance == balance

    # the replacement reissued in turn: the batch's report follows both, and its money
    # table says what the reissues charged (Tango's order totals include it)
    then = write_actions(
        env / "then.csv",
        [{"action": "reissue", "line_id": new, "amount": "9.00", "reason_code": "REWARD_AMOUNT"}],
    )
    assert manage(then)[0].is_completed()
    newest = client.get_line_item(new).reissuedToReferenceLineItemId
    out = send(env / f"{campaign}.csv")
    assert out["balanced"] is True, out
    folder = Path(out["report_dir"])
    report = pd.read_csv(folder / "report.csv", dtype=str, keep_default_na=False)
    said = report.set_index("reference_line_item_id").loc[old, "after_sending"]
    assert f"reissued as line {new}" in said and f"then line {new}: reissued as line {newest}" in (
        said
    ), said
    money = pd.read_csv(folder / "money.csv", dtype=str)
    assert money.loc[0, "reissues_charged"] == "9.00", money.to_dict("records")
    by_reward = pd.read_csv(folder / "by_reward.csv")
    assert (by_reward["cancelled"].sum(), by_reward["failed"].sum()) == (1, 0), by_reward
    # asked again of the first line: the refusal names the line that replaces it now
    state, _, report, _ = manage(again, dry_run=True)
    assert f"line {newest} replaces it" in report.loc[0, "reason"], report.loc[0, "reason"]


def test_a_state_undone_since_is_set_again_and_a_refusal_is_judged_again(
    env: Path, client: RaasClient, campaign: str
) -> None:
    """Frozen, unfrozen, then the first freeze file again: it said "done before" and the
    reward stayed active. An action Tango refused before was not judged by the line's state
    again (a dry run said it would be done)."""
    _, sent = sent_lines(env, campaign, 2)
    line, other = sent["reference_line_item_id"].tolist()
    freeze = write_actions(
        env / "freeze.csv", [{"action": "freeze", "line_id": line, "reason_code": "FRAUD"}]
    )
    unfreeze = write_actions(
        env / "unfreeze.csv", [{"action": "unfreeze", "line_id": line, "reason_code": "FRAUD"}]
    )
    assert manage(freeze)[0].is_completed() and manage(unfreeze)[0].is_completed()
    assert client.get_line_item(line).rewardStatus == "ACTIVE"

    state, _, report, _ = manage(freeze)
    assert state.is_completed() and report["outcome"].tolist() == ["done"], report.to_dict()
    assert client.get_line_item(line).rewardStatus == "FROZEN"
    state, _, report, _ = manage(freeze)  # and once frozen, the same file is done before
    assert report["outcome"].tolist() == ["done_before"], report.to_dict("records")

    # the unfreeze of a reward that is not frozen: refused by Tango once (it was judged
    # after a freeze in the same file), then judged by the line's state before asking
    both = write_actions(
        env / "both.csv",
        [
            {"action": "freeze", "line_id": other, "reason_code": "FRAUD", "repeat_key": "1"},
            {"action": "freeze", "line_id": other, "reason_code": "FRAUD", "repeat_key": "2"},
        ],
    )
    state, _, report, _ = manage(both)
    assert report["outcome"].tolist() == ["done", "refused"], report.to_dict("records")
    state, _, report, _ = manage(both, dry_run=True)
    assert report["outcome"].tolist() == ["done_before", "invalid"], report.to_dict("records")
    assert "is frozen already" in report.loc[1, "reason"]

    # a line id and an external line id naming two different lines: neither is guessed
    clash = write_actions(
        env / "clash.csv",
        [
            {
                "action": "note",
                "line_id": line,
                "external_ref_line_item_id": sent.loc[1, "external_ref_line_item_id"],
                "note": "which one?",
            }
        ],
    )
    state, _, report, _ = manage(clash, dry_run=True)
    assert not state.is_completed() and report["outcome"].tolist() == ["invalid"], state.message
    assert f"is line {other}, not '{line}'" in report.loc[0, "reason"], report.loc[0, "reason"]


def test_a_scheduled_reward_moved_noted_then_cancelled(
    env: Path, client: RaasClient, campaign: str
) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    # with a reward delivered now in the same order: an order of scheduled lines alone stays
    # pending until their dates, and the sending run would wait for it
    rows = recipients(campaign, 2, UTID="U100008", Amount="10", **{"Delivery Date": ""})
    rows[0]["Delivery Date"] = str(today + timedelta(days=10))
    out = send(write_csv(env / "later.csv", rows, [*rows[0]]))
    assert out["scheduled"] == 1, out
    sent = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str, keep_default_na=False)
    line = sent.loc[sent["outcome"] == "scheduled", "reference_line_item_id"].item()
    later = str(today + timedelta(days=30))
    path = write_actions(
        env / "move.csv",
        [
            {"action": "reschedule", "line_id": line, "delivery_date": later},
            {"action": "note", "line_id": line, "note": "moved at the team's request"},
            {"action": "reschedule", "line_id": line, "delivery_date": str(today)},  # too soon
        ],
    )
    state, _, report, _ = manage(path)
    assert report["outcome"].tolist() == ["done", "done", "invalid"], report.to_dict("records")
    assert later in report.loc[0, "reason"]
    assert "days ahead" in report.loc[2, "reason"]
    # the valid rows done, the invalid one listed to fix: as a sending run's rejected rows
    assert state.is_completed() and "1 invalid" in state.message, state.message
    assert "rejected_actions.csv" in state.message

    path = write_actions(
        env / "cancel.csv",
        [{"action": "cancel", "line_id": line, "reason_code": "RECIPIENT_REQUESTED"}],
    )
    state, _, report, _ = manage(path)
    assert state.is_completed(), state.message
    assert report.loc[0, "line_status"] == "CANCELLED"
    paid = sent.loc[sent["reference_line_item_id"] == line, "amount_charged"].item()
    assert report.loc[0, "refunded"] == paid and report.loc[0, "cost"] == "", report.loc[0]
    assert client.get_line_item(line).status == "CANCELLED"

    # its history: scheduled (for the date it was moved to), never issued, then cancelled
    from rewards.history import line_history

    book = Ledger(f"sqlite:///{env / 'ledger.db'}")
    told = "\n".join(e.what for e in line_history(book, client, line))
    assert f"scheduled for delivery on {later}" in told, told
    assert "issued" not in told.replace("not issued yet", ""), told
    assert "now: CANCELLED" in told, told


def test_no_reward_code_reaches_the_logs_artifacts_reports_or_ledger(
    env: Path, client: RaasClient, campaign: str, caplog
) -> None:
    import logging

    from sandbox.config import DEFAULT_PLATFORM_KEY
    from tests.proof.test_secrecy import CANARY, _sqlite_texts, _texts_of

    caplog.set_level(logging.DEBUG)
    _, sent = sent_lines(env, campaign, 2)
    one, two = sent["reference_line_item_id"].tolist()
    path = write_actions(
        env / "all.csv",
        [
            {"action": "resend", "line_id": one, "reason_code": "LOST_DELETED"},
            {"action": "freeze", "line_id": two, "reason_code": "VERIFY_ORDER"},
            {"action": "unfreeze", "line_id": two, "reason_code": "VERIFY_ORDER"},
            {"action": "reissue", "line_id": two, "reason_code": "RECIPIENT"},
            {"action": "note", "line_id": one, "note": "checked"},
        ],
    )
    state, summary, report, _ = manage(path)
    assert state.is_completed(), (state.message, report.to_dict("records"))
    assert report["outcome"].tolist() == ["done"] * 5
    artifacts = artifacts_of(state.state_details.flow_run_id)
    places = {"logs": caplog.text, "state": str(state.message)}

    places |= {f"artifact {a.key}": str(a.data) + str(a.description) for a in artifacts}
    places |= _texts_of(Path(summary.report_dir))
    places |= _sqlite_texts(f"sqlite:///{env / 'ledger.db'}")
    leaks = [w for w, t in places.items() for n in (CANARY, DEFAULT_PLATFORM_KEY) if n in t]
    assert leaks == []
    assert any(f"manage-{summary.batch}" in k for k in places)  # the run's artifacts were read


def test_a_reissue_row_tells_the_old_line_from_its_replacement(
    env: Path, client: RaasClient, campaign: str
) -> None:
    """The row's line is the old one, with its own statuses (cancelled by the reissue); the
    replacement has its id and statuses in columns of its own."""
    _, sent = sent_lines(env, campaign, 1)
    old = sent.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "reissue.csv",
        [{"action": "reissue", "line_id": old, "amount": "7.00", "reason_code": "REWARD_AMOUNT"}],
    )
    state, _, report, _ = manage(path)
    assert state.is_completed(), state.message
    row = report.iloc[0]
    new = client.get_line_item(old).reissuedToReferenceLineItemId
    assert new and (row["line_id"], row["new_line_id"]) == (old, new), row.to_dict()
    was, now = client.get_line_item(old), client.get_line_item(new)
    assert was.status != now.status  # else the test could not tell them apart
    assert (row["line_status"], row["delivery_status"], row["reward_status"]) == (
        was.status or "",
        was.deliveryStatus or "",
        was.rewardStatus or "",
    ), row.to_dict()
    assert (row["new_line_status"], row["new_delivery_status"], row["new_reward_status"]) == (
        now.status or "",
        now.deliveryStatus or "",
        now.rewardStatus or "",
    ), row.to_dict()


def test_the_original_batch_s_report_follows_a_reissue_to_its_replacement(
    env: Path, client: RaasClient, campaign: str
) -> None:
    """After a reissue, the batch run again (Retry, or the same file): its report row says
    the line was reissued, as which line, for how much and by which actions run, not only
    that Tango shows the old line cancelled."""
    out, sent = sent_lines(env, campaign, 3)
    old = sent.loc[0, "reference_line_item_id"]
    path = write_actions(
        env / "reissue.csv",
        [{"action": "reissue", "line_id": old, "amount": "7.00", "reason_code": "REWARD_AMOUNT"}],
    )
    state, summary, _, _ = manage(path)
    assert state.is_completed(), state.message
    new = client.get_line_item(old).reissuedToReferenceLineItemId

    again = send(env / f"{campaign}.csv")
    assert again["balanced"] and again["batch"] == out["batch"]
    report = pd.read_csv(Path(again["report_dir"]) / "report.csv", dtype=str, keep_default_na=False)
    row = report.set_index("reference_line_item_id").loc[old]
    assert row["outcome"] == "cancelled"  # Tango's own word for the old line
    said = row["after_sending"]
    assert f"reissued as line {new}" in said and "7.00" in said and summary.batch in said, said
    others = report[report["reference_line_item_id"] != old]
    assert (others["after_sending"] == "").all()


def test_an_actions_file_run_as_recipients_says_to_manage_it(env: Path, campaign: str) -> None:
    """Started from the UI's fulfil-rewards form (or an upload of old): nothing is sent, and
    the run's message names the flow that takes the file."""
    path = write_actions(
        env / "fixes.csv", [{"action": "cancel", "line_id": "RA1", "reason_code": "DUPLICATE"}]
    )
    state = fulfil_rewards(source_path=str(path), return_state=True)
    assert state.is_failed() and "an actions file" in (state.message or ""), state.message
    assert "rewards manage" in (state.message or "")


def test_manage_runs_carry_the_account_tag_as_fulfil_runs_do(env: Path, campaign: str) -> None:
    """The run list filters on ``account:<account>`` (and ``dry-run``) for both flows."""
    from prefect.client.orchestration import get_client

    path = write_actions(
        env / f"{campaign}.csv", [{"action": "note", "line_id": "RA-nope", "note": "hello"}]
    )
    for dry in (True, False):
        state, _, _, _ = manage(path, dry_run=dry)
        with get_client(sync_client=True) as prefect:
            run = prefect.read_flow_run(state.state_details.flow_run_id)
        assert "account:sandbox-usd" in run.tags, run.tags
        assert ("dry-run" in run.tags) is dry, run.tags
        assert run.name == (f"{path.name} · dry run" if dry else path.name)
