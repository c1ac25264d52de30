"""Secrecy: after a full run, and after fetching the rewards' codes through the one explicit
method, no credential (every one carries the sandbox canary) and no API key appears in the
logs, the Prefect artifacts, the Prefect database, the report files, the ledger or any
state message."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pytest

from flows.fulfil_rewards import fulfil_rewards
from sandbox.config import DEFAULT_PLATFORM_KEY
from tests.flows.conftest import recipients, write_csv
from tests.helpers import artifacts_of

CANARY = "SBXSECRET"


def _texts_of(folder: Path) -> dict[str, str]:
    out = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":  # zipped XML: look inside
            with zipfile.ZipFile(path) as z:
                out[str(path)] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            out[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return out


def _sqlite_texts(url: str) -> dict[str, str]:
    path = Path(url.split("///", 1)[1])
    return {str(p): p.read_bytes().decode("latin-1") for p in path.parent.glob(path.name + "*")}


def test_no_credential_or_key_leaks_anywhere(
    env: Path, sandbox, campaign: str, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    from tasks.tango import tango_client

    caplog.set_level(logging.DEBUG)
    rows = recipients(campaign, 4) + recipients(campaign, 2, start=10, UTID="U100005", Amount="30")
    state = fulfil_rewards(
        source_path=str(write_csv(env / "s.csv", rows)),
        poll_interval_seconds=0.1,
        return_state=True,
    )
    out = state.result().flat()
    assert out["complete"] == 6

    # the explicit, named fetch: it does return the codes...
    client = tango_client()
    artifacts = artifacts_of(state.state_details.flow_run_id)
    with get_client(sync_client=True) as prefect:
        runs = [prefect.read_flow_run(state.state_details.flow_run_id)]

    from rewards.ledger import Ledger

    book = Ledger(f"sqlite:///{env / 'ledger.db'}")
    secrets = [
        c.value
        for o in book.batch_orders(out["batch"])
        for li in client.get_line_items_with_credentials(o.external_ref_id)
        for r in li.rewards
        for c in r.credentialList
    ]
    assert len(secrets) == 4 * 2 + 2 and all(CANARY in s for s in secrets)
    logging.getLogger("test").info("fetched %s", secrets[:1])  # ...and the scan can see a leak
    assert CANARY in caplog.text
    caplog.clear()
    logging.getLogger("test").info("fetched %d line items with credentials", len(secrets))

    places: dict[str, str] = {
        "logs": caplog.text,
        "state messages": " ".join(str(r.state.message) for r in runs if r.state),
    }
    places |= {f"artifact {a.key}": str(a.data) + str(a.description) for a in artifacts}
    places |= _texts_of(Path(out["report_dir"]))
    places |= _sqlite_texts(f"sqlite:///{env / 'ledger.db'}")
    db_url = get_current_settings().server.database.connection_url.get_secret_value()
    if db_url.startswith("sqlite"):
        places |= _sqlite_texts(db_url.replace("+aiosqlite", ""))
    assert len(places) > 8
    assert sum(k.endswith(".db") for k in places) >= 2  # the ledger and Prefect's database
    leaks = {
        where: needle
        for where, text in places.items()
        for needle in (CANARY, DEFAULT_PLATFORM_KEY)
        if needle in text
    }
    assert leaks == {}
