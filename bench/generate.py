"""Generate a recipient CSV of N rows (mixed methods, ~1% bad rows) for benchmarks."""

from __future__ import annotations

import argparse
import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = [
    "First Name",
    "Last Name",
    "Email",
    "Mobile Number",
    "Street Line 1",
    "City",
    "State",
    "Postal Code",
    "Country",
    "UTID",
    "Amount",
    "Delivery Method",
    "Delivery Date",
    "Shipping Method",
    "Message",
    "Campaign",
    "Client Row Key",
    "Department",
]


def generate(
    path: Path, rows: int, seed: int = 1, campaign: str = "bench", bad_rate: float = 0.01
) -> Path:
    rng = random.Random(seed)
    when = (datetime.now(UTC).date() + timedelta(days=20)).isoformat()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            kind = rng.random()
            first, last = f"First{i % 997}", f"Last{i % 991}"
            row = [
                first,
                last,
                f"user{i}@example.com",
                "",
                "",
                "",
                "",
                "",
                "",
                "U100001",
                f"{rng.choice([10, 25, 50, 100])}.00",
                "email",
                "",
                "",
                "Thank you!",
                campaign,
                str(i),
                f"dept-{i % 7}",
            ]
            if kind < 0.15:
                row[2], row[3], row[9], row[11] = (
                    "",
                    f"+1415{rng.randrange(10**7):07d}",
                    "U100007",
                    "sms",
                )
            elif kind < 0.20:
                row[2], row[4:9], row[9], row[11], row[13] = (
                    "",
                    [f"{i} Main St", "Reno", "NV", "89501", "US"],
                    "U100006",
                    "mail",
                    "upsground",
                )
            elif kind < 0.22:
                row[9], row[12] = "U100008", when
            if rng.random() < bad_rate:
                col = rng.choice([2, 9, 10, 11])
                row[col] = {2: "not-an-email", 9: "U999999", 10: "$1,000", 11: "pigeon"}[col]
            w.writerow(row)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    generate(args.path, args.rows)
    print(f"wrote {args.rows:,} rows to {args.path}")
