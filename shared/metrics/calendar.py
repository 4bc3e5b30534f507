"""Grains and a connection's calendar: its time zone and the month its fiscal year starts.

Buckets are computed in SQL by metric_bucket() (migration 0007): weeks start on Monday (ISO,
`date_trunc('week')`), fiscal quarters and years start on the 1st of the fiscal start month and are
labelled by their first day.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

GRAINS = ("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")
COARSE_GRAINS = GRAINS[1:]
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


@dataclass(frozen=True)
class Calendar:
    timezone: str = "UTC"
    fiscal_start: int = 1

    def __str__(self) -> str:
        return f"{self.timezone};fiscal={self.fiscal_start}"


def parse_month(value: object) -> int:
    """1-12 from 4, "4", "April" or "apr"; January when unknown or blank."""
    text = str(value or "").strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    for number, name in enumerate(MONTHS, start=1):
        if text and name.startswith(text[:3]):
            return number
    return 1


def load_calendar(conn: psycopg.Connection, connection_id: str, fiscal_start_sql: str | None) -> Calendar:
    """The connection's `timezone` setting (IANA name; UTC when unset) and the plugin's fiscal year start."""
    row = conn.execute("SELECT config ->> 'timezone' FROM connections WHERE connection_id = %s",
                       (connection_id,)).fetchone()
    timezone = (row[0] if row else None) or "UTC"
    fiscal = 1
    if fiscal_start_sql:
        found = conn.execute(fiscal_start_sql, {"cid": connection_id}).fetchone()
        fiscal = parse_month(found[0] if found else None)
    return Calendar(timezone=timezone, fiscal_start=fiscal)
