"""API calls per monday account and UTC day, in PostgreSQL: the stored count and the guard of the daily cap.

monday caps calls per account per day (reset 00:00 UTC, failed calls count). Every process that calls an
account reserves each call here first, in one atomic statement, so several workers together never go past
the cap. The table is monday_api_calls_daily (migration 0020); the monthly api_usage count is kept as well
by the fetch activity, as for every plugin.
"""

from __future__ import annotations

import datetime as dt

from shared.db.connect import connect

_RESERVE = """
INSERT INTO monday_api_calls_daily AS d (account_key, day, calls)
VALUES (%(account)s, (now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (account_key, day) DO UPDATE SET calls = d.calls + 1, updated_at = now()
WHERE d.calls < %(cap)s
RETURNING calls"""


def reserve_call(account_key: str, cap: int) -> int | None:
    """Count one call against today's cap; the new count, or None when the cap is already reached."""
    with connect(autocommit=True) as conn:
        row = conn.execute(_RESERVE, {"account": account_key, "cap": cap}).fetchone()
    return None if row is None else int(row[0])


def mark_exhausted(account_key: str, cap: int) -> None:
    """monday said the daily cap is reached (someone else spent it): stop asking until tomorrow."""
    with connect(autocommit=True) as conn:
        conn.execute(
            """INSERT INTO monday_api_calls_daily AS d (account_key, day, calls)
               VALUES (%(account)s, (now() AT TIME ZONE 'UTC')::date, %(cap)s)
               ON CONFLICT (account_key, day) DO UPDATE SET calls = greatest(d.calls, %(cap)s), updated_at = now()""",
            {"account": account_key, "cap": cap},
        )


def calls_today(account_key: str) -> int:
    with connect() as conn:
        row = conn.execute(
            """SELECT calls FROM monday_api_calls_daily
               WHERE account_key = %s AND day = (now() AT TIME ZONE 'UTC')::date""",
            (account_key,),
        ).fetchone()
    return int(row[0]) if row else 0


def seconds_to_utc_midnight(now: dt.datetime | None = None) -> float:
    moment = now or dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return (midnight - moment).total_seconds()
