"""Ingest + validate a 1,000,000-row CSV: our reader and validator vs pandas' fastest plain
read (``read_csv(dtype=str, engine="pyarrow")``) in the same process, beside pandera running
the same kind of checks on the same frame; peak memory of ours in a process of its own.

    .venv/bin/python bench/validate_1m.py [--rows N]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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
    start = time.perf_counter()
    failures = 0
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = len(exc.failure_cases)
    return time.perf_counter() - start, failures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--child", choices=["ours"], default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.child:  # peak memory of ours alone
        seconds, valid, rejected = ours(args.file)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps({"seconds": seconds, "valid": valid, "rejected": rejected, "peak_mib": peak})
        )
        return

    import pandas as pd

    from bench.generate import generate

    path = args.file or Path(tempfile.mkdtemp()) / "recipients.csv"
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB) in "
            f"{time.perf_counter() - t:.1f}s"
        )
    # best of N, the read and ours interleaved in this one process (the machine is noisy);
    # pandera afterwards, so its Python objects do not sit in memory while ours runs
    reads, ours_runs, pandera_runs = [], [], []
    for _ in range(args.repeat):
        gc.collect()
        start = time.perf_counter()
        pd.read_csv(path, dtype=str, engine="pyarrow")
        reads.append(time.perf_counter() - start)
        gc.collect()
        seconds, valid, rejected = ours(path)
        ours_runs.append(seconds)
    for _ in range(min(args.repeat, 3)):
        gc.collect()
        seconds, failures = pandera_checks(path)
        pandera_runs.append(seconds)
    t_read, t_ours, t_pandera = min(reads), min(ours_runs), min(pandera_runs)
    child = subprocess.run(
        [sys.executable, __file__, "--file", str(path), "--child", "ours"],
        capture_output=True,
        text=True,
        check=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"rows                              {args.rows:>12,}   (best of {args.repeat})")
    print(f"pandas.read_csv(pyarrow, str)     {t_read:>10.3f} s")
    print(f"ours: read + validate (all checks){t_ours:>10.3f} s   ratio {t_ours / t_read:.2f}x")
    print(
        f"pandera: same kind of checks      {t_pandera:>10.3f} s   ratio "
        f"{t_pandera / t_read:.2f}x (checks only, read not included)"
    )
    print(f"ours: valid / rejected            {valid:>12,} / {rejected:,}")
    print(f"pandera failure cases             {failures:>12,}")
    print(f"ours: peak RSS (own process)      {mem['peak_mib']:>10.0f} MiB")


if __name__ == "__main__":
    main()
