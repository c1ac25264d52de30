"""The flow reads its spreadsheet only under REWARDS_SOURCE_ROOTS, links resolved; what it
refuses is named in one line that says nothing of where the path leads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rewards.errors import InputError
from rewards.sources import SourceSettings, allow, confine

GOOD = "UTID,Amount,Delivery Method,Email\nU100001,5,email,a@example.com\n"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A root holding a good sheet, and a secret beside it, outside."""
    root, outside = tmp_path / "inbox", tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    (root / "ok.csv").write_text(GOOD)
    (outside / "secret.csv").write_text("TANGO_PLATFORM_KEY=canary-77\n")
    return root, outside


def test_a_file_under_a_root_is_read_where_it_is(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    assert confine(root / "ok.csv", [root]) == (root / "ok.csv").resolve()


@pytest.mark.parametrize("how", ["link", "dotdot", "absolute"])
def test_a_path_leading_out_of_the_roots_is_refused(layout: tuple[Path, Path], how: str) -> None:
    root, outside = layout
    path = {
        "link": root / "x.csv",
        "dotdot": root / ".." / "private" / "secret.csv",
        "absolute": outside / "secret.csv",
    }[how]
    if how == "link":
        path.symlink_to(outside / "secret.csv")
    with pytest.raises(InputError) as info:
        confine(path, [root])
    message = str(info.value)
    assert "REWARDS_SOURCE_ROOTS" in message and "private" not in message
    assert "canary" not in message and str(root) not in message


def test_a_link_inside_the_roots_is_followed(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "latest.csv").symlink_to(root / "ok.csv")
    assert confine(root / "latest.csv", [root]) == (root / "ok.csv").resolve()


def test_roots_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, layout: tuple[Path, Path]
) -> None:
    root, outside = layout
    monkeypatch.setenv("REWARDS_SOURCE_ROOTS", os.pathsep.join([str(root), str(outside)]))
    assert SourceSettings().source_roots == [root, outside]
    assert confine(outside / "secret.csv") == (outside / "secret.csv").resolve()


def test_by_default_the_inbox_and_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REWARDS_SOURCE_ROOTS", raising=False)
    monkeypatch.setenv("REWARDS_INBOX_DIR", "/srv/drop")
    assert SourceSettings().source_roots == [Path("/srv/drop"), Path("data")]


def test_rewards_run_allows_the_file_it_names(
    monkeypatch: pytest.MonkeyPatch, layout: tuple[Path, Path]
) -> None:
    root, outside = layout
    monkeypatch.setenv("REWARDS_SOURCE_ROOTS", str(root))
    allow(outside / "secret.csv")
    assert confine(outside / "secret.csv") == (outside / "secret.csv").resolve()
    assert confine(root / "ok.csv") == (root / "ok.csv").resolve()  # the roots stay


def test_the_flow_cannot_be_pointed_at_a_file_outside(
    env: Path, monkeypatch: pytest.MonkeyPatch, layout: tuple[Path, Path]
) -> None:
    """What a UI user sets as source_path: refused by the run, so nothing of the file reaches
    the run's state message, logs or events."""
    from flows.fulfil_rewards import fulfil_rewards

    root, outside = layout
    monkeypatch.setenv("REWARDS_SOURCE_ROOTS", str(root))
    for path in (outside / "secret.csv", Path("/etc/passwd")):
        state = fulfil_rewards(source_path=str(path), return_state=True)
        assert state.is_failed() and "REWARDS_SOURCE_ROOTS" in state.message
        assert "canary" not in state.message and "root:" not in state.message
