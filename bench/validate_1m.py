"""Ingest + validate a 1,000,000-row CSV of each profile (``bench/generate.py``: easy,
realistic, worst): our reader and validator vs pandas' fastest plain read
(``read_csv(dtype=str, engine="pyarrow")``) in one process, pandera doing the checks it can
express (read included), and as whole processes: ``rewards validate --catalog`` vs a process
that only reads, with each one's peak RSS.

    .venv/bin/python bench/validate_1m.py [--rows N] [--profiles easy realistic worst]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import record  # noqa: E402
from bench.generate import PROFILES, generate  # noqa: E402


def catalog():
    from raas import Catalog

    return Catalog.model_validate(json.loads((ROOT / "data/sandbox/catalog.json").read_text()))


def ours(path: Path) -> tuple[float, int, int]:
    from rewards.reading import read_recipients
    from rewards.validation import validate

    cat = catalog()
    start = time.perf_counter()
    sheet = read_recipients(path)
    result = validate(sheet.frame, cat, "USD")
    return time.perf_counter() - start, len(result.valid), len(result.rejected)


def pandera_checks(path: Path) -> tuple[float, int]:
    import pandas as pd
    import pandera.pandas as pa

    from raas import rules
    from raas.rules import METHOD_ALIASES

    cat = catalog()
    items = {i.utid: i for i in cat.items()}
    start = time.perf_counter()  # the read is part of it, as it is of ours
    frame = pd.read_csv(path, dtype=str, engine="pyarrow", keep_default_na=False)
    email_ok = rules.EMAIL.pattern.strip("^$")
    schema = pa.DataFrameSchema(
        {
            "UTID": pa.Column(
                str, [pa.Check.str_matches(r"^[uU]\d+$"), pa.Check.isin(list(items))]
            ),
            "Amount": pa.Column(str, pa.Check.str_matches(r"^\d{1,9}(\.\d{1,2})?$")),
            "Delivery Method": pa.Column(
                str, pa.Check(lambda s: s.str.lower().isin(list(METHOD_ALIASES)))
            ),
            "Email": pa.Column(str, pa.Check(lambda s: (s == "") | s.str.fullmatch(email_ok))),
            "Mobile Number": pa.Column(
                str, pa.Check(lambda s: (s == "") | s.str.fullmatch(r"\+[1-9]\d{6,14}"))
            ),
            "Country": pa.Column(str, pa.Check(lambda s: (s == "") | s.str.fullmatch("[A-Z]{2}"))),
            "Delivery Date": pa.Column(
                str, pa.Check(lambda s: (s == "") | s.str.fullmatch(r"\d{4}-\d{2}-\d{2}"))
            ),
            **{  # the text policy: length and no formula start
                name: pa.Column(
                    str,
                    [
                        pa.Check.str_length(max_value=limit),
                        pa.Check(
                            lambda s: ~s.str.match(r"^\\s*[=+\\-@\\uff1d\\uff0b\\uff0d\\uff20]")
                        ),
                    ],
                )
                for name, limit in (
                    ("First Name", 100),
                    ("Last Name", 100),
                    ("Street Line 1", 200),
                    ("City", 60),
                    ("Message", 1024),
                    ("Campaign", 1024),
                )
            },
        },
        checks=[
            pa.Check(
                lambda df: (df["Delivery Method"].str.lower() != "email") | (df["Email"] != ""),
                name="email_for_email_delivery",
            ),
            pa.Check(
                lambda df: (
                    (df["Delivery Method"].str.lower() != "sms") | (df["Mobile Number"] != "")
                ),
                name="phone_for_sms",
            ),
            pa.Check(
                lambda df: (
                    df["UTID"].map({u: i.faceValue for u, i in items.items()}).isna()
                    | (
                        pd.to_numeric(df["Amount"], errors="coerce")
                        == df["UTID"].map({u: float(i.faceValue or 0) for u, i in items.items()})
                    )
                ),
                name="face_value_of_fixed_items",
            ),
            pa.Check(
                lambda df: pd.to_numeric(df["Amount"], errors="coerce").between(
                    df["UTID"].map({u: float(i.minValue or 0) for u, i in items.items()}),
                    df["UTID"].map({u: float(i.maxValue or 1e9) for u, i in items.items()}),
                ),
                name="amount_in_item_range",
            ),
            pa.Check(
                lambda df: (
                    ~df.duplicated(
                        ["Email", "Mobile Number", "UTID", "Amount", "Campaign", "Client Row Key"]
                    )
                ),
                name="no_repeats",
            ),
        ],
    )
    failures = 0
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = len(exc.failure_cases)
    return time.perf_counter() - start, failures


def _process(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a whole process (``bench/peak.py`` runs it and reads its
    peak from the kernel)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "peak.py"), *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["seconds"], figures["peak_mib"]


def measure(path: Path, repeat: int) -> dict[str, float]:
    """Best of ``repeat``: the read and ours interleaved in this process (the machine is
    noisy), pandera afterwards (read included); then each as a whole process."""
    import pandas as pd

    reads, ours_runs, pandera_runs = [], [], []
    valid = rejected = failures = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        pd.read_csv(path, dtype=str, engine="pyarrow")
        reads.append(time.perf_counter() - start)
        gc.collect()
        seconds, valid, rejected = ours(path)
        ours_runs.append(seconds)
    for _ in range(min(repeat, 3)):
        gc.collect()
        seconds, failures = pandera_checks(path)
        pandera_runs.append(seconds)
    catalog_file = str(ROOT / "data/sandbox/catalog.json")
    cli = [sys.executable, "-m", "deployments.cli", "validate", str(path), "--catalog"]
    cli_runs = [_process([*cli, catalog_file]) for _ in range(min(repeat, 3))]
    read_only = [
        sys.executable,
        "-c",
        "import sys, pandas; pandas.read_csv(sys.argv[1], dtype=str, engine='pyarrow')",
        str(path),
    ]
    read_runs = [_process(read_only) for _ in range(min(repeat, 3))]
    return {
        "read": min(reads),
        "ours": min(ours_runs),
        "pandera": min(pandera_runs),
        "cli": min(s for s, _ in cli_runs),
        "cli_peak": max(m for _, m in cli_runs),
        "read_process": min(s for s, _ in read_runs),
        "read_peak": max(m for _, m in read_runs),
        "valid": valid,
        "rejected": rejected,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=PROFILES)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp())
    rows = []
    for profile in args.profiles:
        path = folder / f"{profile}.csv"
        generate(path, args.rows, profile=profile)
        f = measure(path, args.repeat)
        rows.append((profile, f))
        print(f"{profile}: {args.rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB", flush=True)
    print()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()};")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"validation, {args.rows:,} rows; in-process best of {args.repeat}, processes best of 3")

    head = f"{'profile':<10} {'read s':>7} {'ours s':>7} {'ratio':>6} {'pandera s':>9} {'vs us':>6}"
    head += f" {'read proc s':>11} {'cli s':>6} {'ratio':>6} {'read MiB':>8} {'cli MiB':>8}"
    head += f" {'ratio':>6} {'valid':>9} {'rejected':>8}"
    print(head)
    for profile, f in rows:
        print(
            f"{profile:<10} {f['read']:>7.2f} {f['ours']:>7.2f} {f['ours'] / f['read']:>5.2f}x"
            f" {f['pandera']:>9.2f} {f['pandera'] / f['ours']:>5.2f}x"
            f" {f['read_process']:>11.2f} {f['cli']:>6.2f} {f['cli'] / f['read_process']:>5.2f}x"
            f" {f['read_peak']:>8.0f} {f['cli_peak']:>8.0f} {f['cli_peak'] / f['read_peak']:>5.2f}x"
            f" {f['valid']:>9,} {f['rejected']:>8,}"
        )
        name = f"validate {args.rows:,} rows, {profile}"
        record(name, "x the read, in process", f["ours"] / f["read"], 2.5)
        record(name, "x the read, as processes", f["cli"] / f["read_process"], 2.5)
        record(name, "peak RSS x the read's", f["cli_peak"] / f["read_peak"], 2.5)
        record(name, "pandera s / ours", f["pandera"] / f["ours"], 1, lower_is_better=False)

    print("ratio: ours / the read; 'vs us': pandera / ours (above 1: ours is faster)")


if __name__ == "__main__":
    main()
