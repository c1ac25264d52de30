"""Generate a recipient CSV of N rows for benchmarks, in one of three profiles:

- ``easy``: one reward for most rows, four amounts, phones already +E.164 (~1% bad rows);
- ``realistic``: shaped like an HR export: six rewards, amounts with cents across each item's
  range (~270,000 distinct (reward, amount) pairs on a million rows), email 62% / phone 23%
  written three ways (``+1...``, ``(415) 555-0123``, ``+1 415 555 0123``) / mailed 10% in three
  countries / links 5%, 18 columns, 0.5% bad rows;
- ``worst``: every amount distinct and the reward changing on every row.
"""

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


PROFILES = ("easy", "realistic", "worst")


def generate(
    path: Path,
    rows: int,
    seed: int = 1,
    campaign: str = "bench",
    bad_rate: float | None = None,
    profile: str = "easy",
) -> Path:
    if profile != "easy":
        return _shaped(path, rows, seed, campaign, profile, 0.005 if bad_rate is None else bad_rate)
    bad_rate = 0.01 if bad_rate is None else bad_rate
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
                    f"+1415{rng.randrange(2, 10)}{rng.randrange(10**6):06d}",  # a real exchange
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


# reward, lowest and highest amount (data/sandbox/catalog.json), share of the rows
REWARDS = (
    ("U100001", 1, 2000, "email"),
    ("U100002", 5, 500, "email"),
    ("U100005", 25, 1000, "email"),
    ("U100007", 10, 300, "phone"),
    ("U100006", 10, 500, "mail"),
    ("U100008", 5, 2000, "link"),
)
ADDRESSES = (
    ("Reno", "NV", "89501", "US"),
    ("Toronto", "ON", "M5V 2T6", "CA"),
    ("Leeds", "West Yorkshire", "LS1 4AP", "GB"),
)
BAD = {2: "not-an-email", 9: "U999999", 10: "$1,000", 11: "pigeon"}


# area codes in use: a random one is often not, and a text to it would never arrive
AREAS = (415, 212, 312, 617, 206, 512, 303, 404, 713, 305, 213, 646, 702, 214, 480, 971)


def _phone(rng: random.Random) -> str:
    area, rest = rng.choice(AREAS), rng.randrange(2 * 10**6, 10**7)  # an exchange from 2
    a, b = f"{rest:07d}"[:3], f"{rest:07d}"[3:]
    return rng.choice((f"+1{area}{a}{b}", f"({area}) {a}-{b}", f"+1 {area} {a} {b}"))


def _shaped(path: Path, rows: int, seed: int, campaign: str, profile: str, bad_rate: float) -> Path:
    rng = random.Random(seed)
    when = (datetime.now(UTC).date() + timedelta(days=20)).isoformat()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            if profile == "worst":  # a new reward on every row, every amount its own
                utid, lo, hi, method = REWARDS[i % len(REWARDS)]
                amount = f"{lo + (i * 7919 % ((hi - lo) * 100)) / 100:.2f}"
            else:
                kind = rng.random()
                pick = 0 if kind < 0.40 else 1 if kind < 0.55 else 2 if kind < 0.62 else None
                if pick is None:
                    pick = 3 if kind < 0.85 else 4 if kind < 0.95 else 5
                utid, lo, hi, method = REWARDS[pick]
                amount = f"{rng.randrange(lo * 100, hi * 100 + 1) / 100:.2f}"
            row = [f"First{i % 997}", f"Last{i % 991}", "", "", "", "", "", "", ""]
            row += [utid, amount, method, "", "", "Thank you!", campaign, str(i), f"d-{i % 7}"]
            if method == "email":
                row[2] = f"user{i}@example.com"
            elif method == "phone":
                row[3] = _phone(rng)
            elif method == "mail":
                city, state, postal, country = ADDRESSES[i % 3]
                row[4:9] = [f"{i} Main St", city, state, postal, country]
                row[13] = "upsground"
            elif i % 5 == 0:  # some links are scheduled
                row[12] = when
            if rng.random() < bad_rate:
                col = rng.choice(list(BAD))
                row[col] = BAD[col]
            w.writerow(row)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", choices=PROFILES, default="easy")
    args = parser.parse_args()
    generate(args.path, args.rows, profile=args.profile)
    print(f"wrote {args.rows:,} {args.profile} rows to {args.path}")
