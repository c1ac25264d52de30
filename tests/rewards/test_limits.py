"""Bounded reading: what is not a regular file, too large, too long or too wide is refused
with one line naming the file and the setting, before it is parsed.

Inputs that used to crash, hang or swell the process run ``rewards validate`` in a child
process, memory-capped and time-bounded, so a regression fails the test, not the run."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from proof import hostile
from rewards.errors import InputError
from rewards.limits import ReadLimits
from rewards.reading import read_recipients

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "data/sandbox/catalog.json"
GOOD = "UTID,Amount,Delivery Method,Email\nU100001,5,email,a@example.com\n"
CHILD_MEMORY = 3 << 30


def validate_in_child(path: Path) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))

    return subprocess.run(
        [sys.executable, "-m", "deployments.cli", "validate", str(path), "--catalog", str(CATALOG)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
        cwd=ROOT,
    )


def refused(result: subprocess.CompletedProcess[str], name: str, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {name}: ") and needle in result.stderr


@pytest.mark.parametrize(
    ("write", "needle"),
    [
        (hostile.far_cell, "REWARDS_MAX_COLUMNS"),  # was SIGABRT: 512 GiB asked
        (hostile.zip_bomb, "REWARDS_MAX_XLSX_UNCOMPRESSED_BYTES"),  # was 6 GB
        (hostile.one_huge_cell, "REWARDS_MAX_XLSX_UNCOMPRESSED_BYTES"),  # was ArrowMemoryError
        (hostile.shared_string_bomb, "shared strings counted in every cell"),  # was 3.7 GB
        (hostile.lying_sizes, "damaged"),
        (hostile.many_parts, "directory"),
        (hostile.far_cells_without_references, "2,000 columns"),
    ],
)
def test_hostile_workbooks_are_refused_before_they_are_read(
    tmp_path: Path, write: Callable[[Path], None], needle: str
) -> None:
    path = tmp_path / f"{write.__name__}.xlsx"
    write(path)
    refused(validate_in_child(path), path.name, needle)


def test_a_fifo_named_csv_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    refused(validate_in_child(fifo), "x.csv", "not a regular file")


def test_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    refused(validate_in_child(link), "zero.csv", "not a regular file")


def test_a_workbook_declaring_a_huge_dimension_is_read_as_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "dimension.xlsx"
    hostile.lying_dimension(path)
    assert read_recipients(path).frame["email"].tolist() == ["dim@example.com"]


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize(
    ("data", "limits", "needle"),
    [
        (GOOD * 3, ReadLimits(max_file_bytes=100), "the file is 192 bytes"),
        (GOOD + "\n" * 50, ReadLimits(max_rows=20), "51 lines"),
        (GOOD, ReadLimits(max_columns=3), "the header has 4 columns"),
        (GOOD + "U1,5,email,b@x.com\n" * 9, ReadLimits(max_cells=30), "make 40 cells"),
        (GOOD.replace("a@", "a" * 50 + "@"), ReadLimits(max_cell_chars=40), "row 2, column 4"),
    ],
)
def test_each_limit_names_the_file_and_its_setting(
    tmp_path: Path, data: str, limits: ReadLimits, needle: str
) -> None:
    with pytest.raises(InputError) as info:
        read_recipients(write(tmp_path, "in.csv", data), limits=limits)
    message = str(info.value)
    assert message.startswith("in.csv: ") and needle in message and "REWARDS_MAX_" in message
    assert "\n" not in message


def test_a_header_longer_than_the_sniffed_sample_is_counted_whole(tmp_path: Path) -> None:
    header = "UTID,Amount,Delivery Method," + "x" * 70_000 + ",a" * 2_000
    with pytest.raises(InputError, match="2,004 columns"):
        read_recipients(write(tmp_path, "wide.csv", header + "\nU1,5,email\n"))


def test_blank_lines_cannot_make_millions_of_rows(tmp_path: Path) -> None:
    """50 MB of line breaks under a header: pyarrow gives up on the empty lines and pandas'
    parser would make a row of each (gigabytes); refused from the line count."""
    path = write(tmp_path, "blank.csv", GOOD.encode() + b"\n" * 50_000_000)
    with pytest.raises(InputError, match="REWARDS_MAX_ROWS"):
        read_recipients(path)


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "sparse.csv"
    with path.open("wb") as fh:
        fh.truncate(ReadLimits().max_file_bytes + 1)  # sparse: nothing is written
    with pytest.raises(InputError, match="REWARDS_MAX_FILE_BYTES"):
        read_recipients(path)


def test_limits_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDS_MAX_ROWS", "1")
    with pytest.raises(InputError, match="2 lines, more than the 1 rows allowed"):
        read_recipients(write(tmp_path, "in.csv", GOOD + "U1,5,email,b@x.com\n"))


def test_old_workbook_formats_are_refused(tmp_path: Path) -> None:
    for name in ("old.xls", "sheet.ods"):
        with pytest.raises(InputError, match=r"save it as \.xlsx or CSV"):
            read_recipients(write(tmp_path, name, b"\xd0\xcf\x11\xe0"))
