"""Writes the own-data example (README "Your own data"): a shop whose files are shaped unlike ours.

- `orders.csv`: `;`-delimited, its own column names, amounts with a decimal comma and a thousands
  dot (`1.234,56`), ISO 8601 timestamps with `T` and an offset, an extra `channel` column, and a
  few values no mapping can convert (they must land in quarantine, not vanish).
- `customers.csv`: comma-delimited, other names, a date-only `member_since` as `dd.MM.yyyy`.
- No merchants file: the mapping derives one merchant per store from the orders.

Deterministic (standard library only); the committed files are its output:
`python examples/shop/generate.py`.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
CUSTOMERS = 150
ORDERS = 1500
STORES = ["BER-01", "BER-02", "HAM-01", "MUC-01", "MUC-02", "KOE-01"]
COUNTRIES = ["DE", "AT", "CH", "NL"]
# Rows whose amount or timestamp no mapping can convert: (order number, column, text).
UNCONVERTIBLE = {
    17: ("total_price", "n/a"),
    404: ("order_ts", "31/02/2024 25:00"),
    1203: ("total_price", "12,3,4"),
}


def german_amount(cents: int) -> str:
    """1234.56 as `1.234,56`."""
    euros, rest = divmod(cents, 100)
    return f"{euros:,}".replace(",", ".") + f",{rest:02d}"


def main() -> None:
    rng = random.Random(20241)
    with (HERE / "customers.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["cust_key", "full_name", "email_address", "country_code", "member_since", "newsletter"]
        )
        for n in range(1, CUSTOMERS + 1):
            since = datetime(2020, 1, 1) + timedelta(days=rng.randrange(1400))
            writer.writerow(
                [
                    f"K{n:04d}",
                    f"Kunde {n}",
                    f"kunde{n}@example.org",
                    rng.choice(COUNTRIES),
                    since.strftime("%d.%m.%Y"),
                    rng.choice(["yes", "no"]),
                ]
            )
    start = datetime(2024, 3, 1, tzinfo=timezone(timedelta(hours=1)))
    with (HERE / "orders.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["order_key", "cust_key", "store", "total_price", "order_ts", "channel"])
        for n in range(1, ORDERS + 1):
            cents = int(rng.lognormvariate(10.3, 1.0))  # median ~300 EUR, a tail above 1.000
            at = start + timedelta(minutes=rng.randrange(60 * 24 * 90))
            row = {
                "order_key": f"O-{n:06d}",
                "cust_key": f"K{rng.randrange(1, CUSTOMERS + 1):04d}",
                "store": rng.choice(STORES),
                "total_price": german_amount(cents),
                "order_ts": at.isoformat(timespec="seconds"),
                "channel": rng.choice(["web", "store", "app"]),
            }
            if n in UNCONVERTIBLE:
                column, text = UNCONVERTIBLE[n]
                row[column] = text
            writer.writerow(row.values())


if __name__ == "__main__":
    main()
