"""The inbox takes each file once; an upload event starts the on-upload deployment."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from rewards.inbox import Inbox
from tests.helpers import runs_of, wait_for

CSV = "UTID,Amount,Delivery Method,Email,Campaign\nU100001,5,email,a@example.com,{}\n"


def drop(folder: Path, name: str, text: str, age_seconds: float = 60) -> Path:
    """A file as if it had landed ``age_seconds`` ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(tmp_path / "inbox", f"sqlite:///{tmp_path / 'ledger.db'}", settle_seconds=5)


def test_a_settled_file_is_taken_once(inbox: Inbox) -> None:
    path = drop(inbox.folder, "march.csv", CSV.format("m"), age_seconds=0)
    assert inbox.scan() == []  # just written: it may still be copying
    os.utime(path, (time.time() - 60, time.time() - 60))
    (taken,) = inbox.scan()
    assert not taken.duplicate and taken.path.parent.name == "processed"
    assert taken.path.read_text().startswith("UTID") and not path.exists()
    assert inbox.scan() == []


def test_same_content_under_another_name_is_set_aside(inbox: Inbox) -> None:
    drop(inbox.folder, "a.csv", CSV.format("x"))
    drop(inbox.folder, "copy of a.csv", CSV.format("x"))
    first, second = inbox.scan()
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.path.parent.name == "duplicates"


def test_other_files_are_ignored(inbox: Inbox) -> None:
    for name in ("notes.pdf", ".hidden.csv", "~$lock.xlsx"):
        drop(inbox.folder, name, "x")
    assert inbox.scan() == []


def test_upload_event_starts_the_on_upload_deployment(env: Path, prefect_server: str) -> None:

    from deployments.serve import build
    from flows.scan_inbox import scan_inbox

    for deployment in build():
        deployment.apply()
    name = f"upload-{uuid.uuid4().hex[:6]}.csv"
    drop(env / "inbox", name, CSV.format(name))
    announced = scan_inbox(inbox=str(env / "inbox"), settle_seconds=1)
    assert len(announced) == 1
    assert scan_inbox(inbox=str(env / "inbox"), settle_seconds=1) == []

    def runs() -> list:
        return runs_of("fulfil-rewards/on-upload", announced[0])

    (run,) = wait_for(runs, timeout=30)
    assert run.parameters["source_path"].endswith(name)
    time.sleep(2)
    assert len(runs()) == 1  # one file, one run


def test_the_watcher_announces_a_new_file_within_seconds(env: Path, prefect_server: str) -> None:
    import threading

    import httpx

    from deployments.watch import watch

    folder = env / "watched"
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(folder, f"sqlite:///{env / 'w.db'}", 0.5, stop), daemon=True
    )
    thread.start()
    try:
        wait_for(folder.exists)
        name = f"watched-{uuid.uuid4().hex[:6]}.csv"
        (folder / name).write_text(CSV.format(name))
        taken = wait_for(lambda: list((folder / "processed").glob(f"*-{name}")), timeout=20)

        def announced() -> list:
            response = httpx.post(
                prefect_server.rstrip("/") + "/events/filter",
                json={
                    "filter": {
                        "event": {"name": ["rewards.upload.created"]},
                        "occurred": {"since": "2000-01-01T00:00:00Z"},
                    },
                    "limit": 50,
                },
            )
            return [e for e in response.json()["events"] if e["payload"].get("name") == name]

        (event,) = wait_for(announced, timeout=20)
        assert event["payload"]["path"] == str(taken[0].resolve())
    finally:
        stop.set()
        thread.join(10)


def test_an_upload_no_run_took_is_announced_again_until_one_does(
    env: Path, prefect_server: str
) -> None:
    import contextlib

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from deployments.serve import build
    from flows.scan_inbox import run_for, scan_inbox
    from rewards.inbox import Upload

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_deployment(client.read_deployment_by_name("fulfil-rewards/on-upload").id)
    name = f"lost-{uuid.uuid4().hex[:6]}.csv"
    drop(env / "inbox", name, CSV.format(name))

    def scan() -> list[str]:
        return scan_inbox(inbox=str(env / "inbox"), settle_seconds=1, reannounce_after_seconds=1)

    (path,) = scan()  # announced; nothing listens for it
    assert not (env / "inbox" / name).exists()
    time.sleep(1.5)
    assert scan() == [path]  # no run took it: announced again
    for deployment in build():  # now the on-upload deployment listens (once Prefect loads it)
        deployment.apply()
    upload = Upload(path=Path(path), name=name, sha256="", duplicate=False)

    def announced_until_a_run_has_it() -> str | None:
        time.sleep(1.5)
        scan()
        return run_for(upload)

    wait_for(announced_until_a_run_has_it, timeout=60)
    time.sleep(1.5)

    assert scan() == []  # a run has it: done with
    time.sleep(1.5)
    assert scan() == []


ACTIONS = "action,line_id,new_email,reason_code\nresend,{},new@example.com,DELIVERY_INFO\n"


def test_an_actions_file_is_known_by_its_header(inbox: Inbox) -> None:
    from rewards.inbox import UploadKind

    drop(inbox.folder, "fix.csv", ACTIONS.format("L1"))
    drop(inbox.folder, "march.csv", CSV.format("m"))
    kinds = {u.name: u.kind for u in inbox.scan()}
    assert kinds == {"fix.csv": UploadKind.ACTIONS, "march.csv": UploadKind.RECIPIENTS}


def test_an_actions_upload_starts_manage_rewards_not_fulfil(env: Path, prefect_server: str) -> None:

    from deployments.serve import build
    from flows.scan_inbox import scan_inbox

    for deployment in build():
        deployment.apply()
    name = f"fix-{uuid.uuid4().hex[:6]}.csv"
    drop(env / "inbox", name, ACTIONS.format(name))
    (announced,) = scan_inbox(inbox=str(env / "inbox"), settle_seconds=1)

    def runs(deployment: str) -> list:
        return runs_of(deployment, announced)

    (run,) = wait_for(lambda: runs("manage-rewards/on-upload"), timeout=30)
    assert run.parameters["source_path"].endswith(name)
    time.sleep(2)
    assert runs("fulfil-rewards/on-upload") == []
    assert len(runs("manage-rewards/on-upload")) == 1
