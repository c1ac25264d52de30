"""A data team in the Prefect UI, in a real browser: the run form, a run's progress, its
artifacts and report download, and the approval dialog (approve, reject, an empty form)."""

from __future__ import annotations

import json
import re
import time

import httpx

from sandbox import SandboxServer
from tests.flows.test_approval import answer
from tests.helpers import wait_for
from tests.ui.conftest import THRESHOLD, deployment_id, rows_file, run_state, start_run, wait_state


def test_the_run_form_starts_a_run_whose_progress_moves_and_whose_report_downloads(
    ui, page, sandbox: SandboxServer
) -> None:
    api, url = ui["api"], ui["url"]
    source = rows_file(ui["work"], 12)  # 60.00 USD: below the threshold
    dep = httpx.get(f"{api}/deployments/name/fulfil-rewards/manual").json()["id"]

    page.goto(f"{url}/deployments/deployment/{dep}?tab=Parameters")
    page.get_by_text("16 parameters").wait_for()
    page.snap("parameters-tab")
    table = page.locator("body").inner_text()
    assert "source_path" in table and "approval_threshold" in table and "\nparams\n" not in table

    page.goto(f"{url}/deployments/deployment/{dep}/run")
    form = page.get_by_text("Parameters", exact=True).first
    form.wait_for()
    text = page.locator("body").inner_text()
    assert "Property is type" not in text and "None" not in text  # no null toggles
    assert "a path on the machine that serves this deployment" in text  # descriptions render
    assert "Source path" in text and "source_path" not in text  # labels in words

    _field(page, "Source path").locator("textarea").fill(str(source))
    _field(page, "Max line items per order").locator("input").fill("1")
    page.snap("form-filled")
    sandbox.admin.post("/faults", json={"latency_ms": 150}).raise_for_status()  # time to watch
    try:
        _submit(page)  # and open the run just started

        page.wait_for_url(re.compile(r".*/runs/flow-run/[0-9a-f-]+"))
        run_id = page.url.rsplit("/", 1)[1].split("?")[0]

        seen: set[str] = set()
        while run_state(api, run_id).get("type") not in ("COMPLETED", "FAILED", "CRASHED"):
            for card in _artifacts(api, run_id, "progress"):
                seen.add(f"{card['description']}")
            time.sleep(0.3)
    finally:
        sandbox.admin.post("/faults", json={}).raise_for_status()
    page.snap("run-done")
    state = run_state(api, run_id)
    assert state["type"] == "COMPLETED", state
    assert state["message"].startswith("12 sent")
    finished = sorted(s for s in seen if s.startswith("orders finished"))
    assert len({s for s in seen if s.startswith(("orders submitted", "orders finished"))}) >= 3
    assert "orders finished: 12 of 12" in finished or _final(api, run_id).endswith("12 of 12")

    page.reload()
    page.get_by_text(source.name).first.wait_for()  # the run is named after its file
    page.get_by_text("Artifacts", exact=True).first.click()
    page.get_by_text("Who got what").first.wait_for()
    page.snap("artifacts")
    assert "Flow run\nNone" not in page.locator("body").inner_text()  # they hang off the run
    shown = _artifacts(api, run_id, "table") + _artifacts(api, run_id, "progress")
    assert shown and all(a["task_run_id"] is None for a in shown)

    files = next(a for a in _artifacts(api, run_id, "markdown") if a["key"].endswith("-files"))
    page.goto(f"{url}/artifacts/artifact/{files['id']}")
    link = page.get_by_role("link", name="report.csv")
    link.wait_for()
    page.snap("files-artifact")
    with page.expect_download() as download:
        link.click()
    saved = download.value.path()
    report = saved.read_text()
    assert report.startswith("row_number,outcome") and report.count(",complete,") == 12


def test_approve_in_the_resume_dialog(ui, page) -> None:
    api, url = ui["api"], ui["url"]
    run_id = start_run(api, source_path=str(rows_file(ui["work"], 25)))  # 125.00 USD
    assert (s := wait_state(api, run_id, "PAUSED"))["type"] == "PAUSED", s
    page.goto(f"{url}/runs/flow-run/{run_id}")
    page.get_by_role("button", name="Resume").first.click()
    dialog = page.locator("[role=dialog]")
    dialog.get_by_text("Approve sending 25 rewards for 125.00 USD?").first.wait_for()
    page.snap("resume-dialog")
    _choose(page, dialog, "approve")
    dialog.locator("textarea").nth(0).fill("Grace Hopper")
    dialog.locator("textarea").nth(1).fill("Q4 budget")
    page.snap("approve-filled")
    dialog.get_by_role("button", name="Submit").click()
    state = wait_state(api, run_id, "COMPLETED", "FAILED", "CANCELLED")
    page.reload()
    page.snap("approved-run")
    assert state["type"] == "COMPLETED", state
    assert "25 sent" in state["message"] and "approved by Grace Hopper at " in state["message"]
    assert f"approval needed above {THRESHOLD}.00 USD" in _question(api, run_id)


def test_an_empty_answer_is_refused_and_reject_sends_nothing(ui, page, sandbox) -> None:
    api, url = ui["api"], ui["url"]
    run_id = start_run(api, source_path=str(rows_file(ui["work"], 30)))  # 150.00 USD
    assert (s := wait_state(api, run_id, "PAUSED"))["type"] == "PAUSED", s
    page.goto(f"{url}/runs/flow-run/{run_id}")
    page.get_by_role("button", name="Resume").first.click()
    dialog = page.locator("[role=dialog]")
    dialog.get_by_role("button", name="Submit").click()  # nothing chosen, no name
    page.get_by_text("is a required property").first.wait_for()
    page.snap("empty-refused")
    assert run_state(api, run_id)["type"] == "PAUSED"  # no default decided for anyone
    _choose(page, dialog, "reject")
    dialog.locator("textarea").nth(0).fill("Alan Turing")
    dialog.get_by_role("button", name="Submit").click()
    state = wait_state(api, run_id, "COMPLETED", "FAILED", "CANCELLED")
    page.reload()
    page.snap("rejected-run")
    assert state["type"] == "CANCELLED" and "rejected by Alan Turing" in state["message"]
    assert "nothing was sent" in state["message"]


def test_cancel_while_awaiting_approval_is_recorded_as_the_answer(ui, page) -> None:
    """The run page's Cancel on a run that waits for approval, under `rewards serve`: the run
    ends Cancelled, nothing is sent, and the audit trail says it was cancelled while awaiting
    approval (serve's runner stops the process; the flow's on_cancellation hook records it
    when the run could not)."""
    from rewards.ledger import Ledger

    api, url = ui["api"], ui["url"]
    run_id = start_run(api, source_path=str(rows_file(ui["work"], 40)))  # 200.00 USD
    assert (s := wait_state(api, run_id, "PAUSED"))["type"] == "PAUSED", s
    page.goto(f"{url}/runs/flow-run/{run_id}")
    page.get_by_role("button", name="Cancel").first.click()
    page.get_by_role("button", name="Confirm").first.click()
    state = wait_state(api, run_id, "CANCELLED", "COMPLETED", "FAILED", "CRASHED")
    page.reload()
    page.snap("cancelled-run")
    assert state["type"] == "CANCELLED", state
    book = Ledger(f"sqlite:///{ui['work'] / 'ledger.db'}")
    said = wait_for(
        lambda: (n := book.last_note_of_run(run_id))["kind"] != "awaiting approval" and n,
        timeout=30,
    )
    assert said["kind"] == "cancelled while awaiting approval", said
    assert "200.00" in said["detail"]
    # the run's page says so too, beside Prefect's "Flow run was cancelled successfully."
    card = wait_for(
        lambda: next(
            (
                a
                for a in _artifacts(api, run_id, "markdown")
                if a["description"] == "Approval: cancelled"
            ),
            None,
        ),
        timeout=30,
    )
    assert "while awaiting approval of 200.00 USD" in card["data"], card
    assert "nothing was sent" in card["data"], card


def _submit(page) -> None:
    """Submit the run form and open the run it started. The test's Prefect server keeps its
    state in SQLite; busy with serve's writes it can fail the request ("Oops. Something went
    wrong."), and a person then submits again: so does this, up to three times."""
    # the run just started is the one the toast offers ("... scheduled to start now, View
    # run"), as a person opens it: the first run link new to the page was an earlier run's
    # (the deployment's list of runs shows after the submit), and a test read that run of
    # 10.00 USD, completed, as the one its form had started
    view = page.get_by_text("View run", exact=True).first
    oops = page.get_by_text("Something went wrong").first
    for _ in range(3):
        page.get_by_role("button", name="Submit").click()
        view.or_(oops).wait_for()

        if view.is_visible():
            view.dispatch_event("click")  # the toast still slides in: never "stable" to click
            return
        page.snap("submit-failed")
        page.wait_for_timeout(2000)
    raise AssertionError("the run form failed three times")


def _field(page, name: str):
    """A parameter's field in the run form (its label is not tied to its input)."""
    return page.locator(".schema-form-property", has_text=f"{name} (Optional)").first


def _choose(page, dialog, decision: str) -> None:
    """The decision select: opened from the keyboard (a click does not open it headless)."""
    dialog.locator(".p-select-button__control").first.press("ArrowDown")
    page.locator("[role=option]", has_text=decision).first.click()


def _artifacts(api: str, run_id: str, kind: str) -> list[dict]:
    found = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [run_id]}, "type": {"any_": [kind]}}},
    ).json()
    return found


def _final(api: str, run_id: str) -> str:
    cards = [a["description"] for a in _artifacts(api, run_id, "progress")]
    return next((c for c in cards if c.startswith("orders finished")), "")


def _question(api: str, run_id: str) -> str:
    cards = _artifacts(api, run_id, "markdown")
    return json.dumps([a.get("data") for a in cards])


def test_the_manage_form_runs_an_actions_file_and_its_report_says_what_was_done(ui, page) -> None:
    """Manage async orders from the UI: rewards sent by a run, then an actions file (a note
    on one line, a freeze and unfreeze of another, one line nobody sent) given to the
    manage-rewards form; the run's table says done / invalid, and why."""
    api, url = ui["api"], ui["url"]
    run_id = start_run(api, source_path=str(rows_file(ui["work"], 2)))  # 10.00 USD
    state = wait_state(api, run_id, "COMPLETED", "FAILED")
    assert state["type"] == "COMPLETED", state
    table = next(a for a in _artifacts(api, run_id, "table") if a["key"].endswith("-results"))
    sent = [r["reference_line_item_id"] for r in json.loads(table["data"])]
    actions = ui["work"] / "actions.csv"
    actions.write_text(
        "action,line_id,reason_code,note\n"
        f"note,{sent[0]},,checked by the team\n"
        f"freeze,{sent[1]},VERIFY_ORDER,\n"
        f"unfreeze,{sent[1]},VERIFY_ORDER,\n"
        "cancel,no-such-line,OTHER,\n"
    )
    dep = httpx.get(f"{api}/deployments/name/manage-rewards/manual").json()["id"]
    page.goto(f"{url}/deployments/deployment/{dep}/run")
    page.get_by_text("Parameters", exact=True).first.wait_for()
    text = page.locator("body").inner_text()
    assert "Property is type" not in text  # no null toggles here either
    _field(page, "Source path").locator("textarea").fill(str(actions))
    page.snap("manage-form")
    _submit(page)
    page.wait_for_url(re.compile(r".*/runs/flow-run/[0-9a-f-]+"))
    manage_id = page.url.rsplit("/", 1)[1].split("?")[0]
    state = wait_state(api, manage_id, "COMPLETED", "FAILED", "CANCELLED")
    page.reload()
    page.get_by_text("Artifacts", exact=True).first.click()
    page.snap("manage-artifacts")
    rows = [
        r
        for a in _artifacts(api, manage_id, "table")
        for r in json.loads(a["data"])
        if isinstance(r, dict) and "action" in r
    ]
    said = {(r["action"], r["outcome"]) for r in rows}
    assert {("note", "done"), ("freeze", "done"), ("unfreeze", "done")} <= said, rows
    refused = next(r for r in rows if r["action"] == "cancel")
    assert refused["outcome"] == "invalid" and refused["reason"], refused
    # the valid actions done, the invalid one listed to fix: Completed, as a sending run is
    assert state["type"] == "COMPLETED" and "1 invalid" in state["message"], state


def test_the_run_form_cannot_raise_or_remove_the_team_s_approval_threshold(ui, page) -> None:
    """`rewards serve --approval-threshold 100`: a run of 125.00 USD started from the form
    with its threshold set to 0 or to 100,000 still waits for approval (it was sent at once)."""
    api, url = ui["api"], ui["url"]
    dep = httpx.get(f"{api}/deployments/name/fulfil-rewards/manual").json()["id"]
    for asked in ("0", "100000"):
        page.goto(f"{url}/deployments/deployment/{dep}/run")
        page.get_by_text("Parameters", exact=True).first.wait_for()
        source = rows_file(ui["work"], 25)  # 125.00 USD
        _field(page, "Source path").locator("textarea").fill(str(source))
        _field(page, "Approval threshold").locator("input").fill(asked)
        page.snap(f"threshold-{asked}")
        _submit(page)
        page.wait_for_url(re.compile(r".*/runs/flow-run/[0-9a-f-]+"))
        run_id = page.url.rsplit("/", 1)[1].split("?")[0]
        state = wait_state(api, run_id, "PAUSED", "COMPLETED", "FAILED")
        assert state["type"] == "PAUSED", (asked, state)
        answer(api, run_id, {"decision": "reject", "approver": "UI test"})  # nothing is sent
        state = wait_state(api, run_id, "CANCELLED", "COMPLETED", "FAILED")
        assert state["type"] == "CANCELLED", state


def test_numbers_out_of_range_in_the_run_form_are_refused_before_a_run_starts(ui) -> None:
    """What the form posts for a negative concurrency, no line items per order or a timeout of
    1e308: the server refuses it against the deployment's schema (which also gives the form
    its minimum and maximum), so no run starts to fail with a pydantic traceback."""
    api = ui["api"]
    dep = deployment_id(api, "fulfil-rewards/manual")
    schema = httpx.get(f"{api}/deployments/{dep}").json()["parameter_openapi_schema"]
    assert schema["properties"]["submit_concurrency"]["minimum"] == 1
    source = str(rows_file(ui["work"], 1))
    for wrong in (
        {"submit_concurrency": -3},
        {"max_line_items_per_order": 0},
        {"timeout_seconds": 1e308},
        {"approval_timeout_seconds": 99999999999999999999},
    ):
        response = httpx.post(
            f"{api}/deployments/{dep}/create_flow_run",
            json={"parameters": {"source_path": source, **wrong}},
        )
        assert response.status_code in (409, 422), (wrong, response.status_code, response.text)
        assert next(iter(wrong)) in response.text, response.text
