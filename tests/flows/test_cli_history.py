"""``rewards history LINE`` as a person types it: a subprocess, its exit code and what it
prints, on lines sent by the flow to the sandbox."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from sandbox import SandboxServer
from tests.flows.conftest import recipients, write_csv
from tests.flows.test_cli_run import rewards
from tests.flows.test_manage_rewards import BOUNCE, send


def test_history_of_a_failed_and_a_scheduled_line_and_of_an_unknown_one(
    env: Path, prefect_server: str, sandbox: SandboxServer, campaign: str
) -> None:
    today = datetime.now(UTC).date()
    later = str(today + timedelta(days=10))
    rows = recipients(campaign, 2, UTID="U100008", Amount="10", **{"Delivery Date": ""})
    rows[0]["Delivery Date"] = later  # scheduled: Tango has not issued it yet
    rows[1]["Email"] = f"bob@{BOUNCE}"  # its delivery fails
    out = send(write_csv(env / "history.csv", rows, [*rows[0]]))
    assert (out["scheduled"], out["failed"]) == (1, 1), out
    report = pd.read_csv(Path(out["report_dir"]) / "report.csv", dtype=str, keep_default_na=False)
    by_outcome = report.set_index("outcome")
    cli_env = {**os.environ, "PREFECT_API_URL": prefect_server}

    # an id nobody knows: exit 2, one line saying so and which ids are taken
    code, said = rewards("history", "no-such-line-42", env=cli_env)
    assert code == 2, said
    assert len(said.strip().splitlines()) == 1, said
    assert "no-such-line-42" in said and "nothing is known" in said, said
    assert "externalRefLineItemID" in said and "referenceLineItemId" in said, said

    # the failed line, found by Tango's externalRefLineItemID (what Tango's portal shows)
    failed_ext = by_outcome.loc["failed", "external_ref_line_item_id"]
    code, said = rewards("history", failed_ext, env=cli_env)
    assert code == 0, said
    failure = [line for line in said.splitlines() if "delivery failed" in line]
    assert failure and BOUNCE in failure[0], said
    assert failure[0][:4].isdigit(), said  # dated
    assert "bob@" not in said

    # the scheduled line: scheduled for its date, not "issued"
    scheduled = by_outcome.loc["scheduled", "reference_line_item_id"]
    code, said = rewards("history", scheduled, env=cli_env)
    assert code == 0, said
    assert f"scheduled for delivery on {later}" in said, said
    assert "issued" not in said.replace("not issued yet", ""), said
