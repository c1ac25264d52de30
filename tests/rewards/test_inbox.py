"""The inbox takes plain files only: a link, a hard link, a device or a pipe is set aside
with a log line and never read, and nothing is moved or announced out of the inbox."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from rewards.inbox import Inbox, uploaded_name

CSV = "UTID,Amount,Delivery Method,Email\nU100001,5,email,a@example.com\n"


def settled_file(path: Path, text: str = CSV) -> Path:
    path.write_text(text)
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return Inbox(folder, f"sqlite:///{tmp_path / 'ledger.db'}", settle_seconds=5)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    return settled_file(tmp_path / "passwd", "root:x:0:0:root:/root:/bin/bash\n")


def test_a_link_out_of_the_inbox_is_refused_and_set_aside(
    inbox: Inbox, secret: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (inbox.folder / "x.csv").symlink_to(secret)
    with caplog.at_level(logging.WARNING, logger="rewards.inbox"):
        assert inbox.scan() == []
    assert "x.csv is a link" in caplog.text and "root:" not in caplog.text
    (aside,) = (inbox.processed / "refused").iterdir()
    assert aside.is_symlink() and secret.read_text().startswith("root:")  # target untouched
    caplog.clear()
    assert inbox.scan() == [] and caplog.text == ""  # refused once, not at every look


def test_a_link_to_a_file_inside_is_refused_too(inbox: Inbox) -> None:
    real = settled_file(inbox.folder / ".real.csv")  # hidden: not a candidate itself
    (inbox.folder / "x.csv").symlink_to(real)
    assert inbox.scan() == []


def test_a_hard_link_is_refused(inbox: Inbox, tmp_path: Path) -> None:
    outside = settled_file(tmp_path / "elsewhere.csv")
    os.link(outside, inbox.folder / "x.csv")
    assert inbox.scan() == []


def test_a_pipe_is_refused_without_waiting(inbox: Inbox) -> None:
    os.mkfifo(inbox.folder / "x.csv")
    assert inbox.scan() == []


def test_a_file_swapped_for_a_link_after_it_was_listed_is_not_taken(
    inbox: Inbox, secret: Path
) -> None:
    path = settled_file(inbox.folder / "x.csv")
    (listed,) = inbox.candidates()
    path.unlink()
    path.symlink_to(secret)
    os.utime(path, (time.time() - 60, time.time() - 60), follow_symlinks=False)
    assert inbox.take(listed) is None


def test_nothing_is_moved_through_a_processed_folder_that_leads_out(
    inbox: Inbox, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    inbox.processed.symlink_to(elsewhere)
    path = settled_file(inbox.folder / "x.csv")
    assert inbox.scan() == [] and path.exists() and not any(elsewhere.iterdir())


def test_a_plain_file_is_still_taken(inbox: Inbox) -> None:
    settled_file(inbox.folder / "march.csv")
    (taken,) = inbox.scan()
    assert taken.path.read_text() == CSV and taken.path.parent == inbox.processed.resolve()
    # kept under its hash; its run is named as the file was dropped
    assert taken.path.name != "march.csv" and uploaded_name(taken.path) == "march.csv"


def test_an_inbox_named_relatively_keeps_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's path of an upload is the path its run was given, whatever folder the
    inbox was named from (a relative one made every upload look unclaimed and announced
    again); and one run claims an upload: a second is told which run has it."""
    monkeypatch.chdir(tmp_path)
    box = Inbox(Path("inbox"), f"sqlite:///{tmp_path / 'l.db'}", settle_seconds=0)
    landed = box.folder / "a.csv"
    landed.parent.mkdir()
    landed.write_text("Email,UTID,Amount,Delivery Method\na@x.com,U1,5,email\n")
    os.utime(landed, (time.time() - 60, time.time() - 60))
    (upload,) = box.scan()
    box.announced(upload)
    (waiting,) = box.waiting(0)
    assert waiting.path == upload.path and upload.path.is_absolute()
    assert box.claim(upload.path, "run-1") is None and box.claim(upload.path, "run-1") is None
    assert box.claim(upload.path, "run-2") == "run-1"
    assert box.waiting(0) == []  # claimed: not announced again
