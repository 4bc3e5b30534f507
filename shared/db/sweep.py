"""Tombstoning what a complete read no longer saw, guarded against wiping a table."""

from __future__ import annotations

import psycopg
from psycopg import sql

MAX_SHARE = 0.5
MIN_ROWS_FOR_GUARD = 10


class SweepRefused(RuntimeError):
    """A sweep that would tombstone too much of a table."""


def tombstone_missing(conn: psycopg.Connection, table: str, connection_id: str, run_id: str,
                      ids: set[str], max_share: float, where: dict[str, str] | None = None) -> int:
    """Tombstone the live rows of `table` (narrowed to `where`) whose ids are not in `ids`; SweepRefused when that
    would be more than `max_share` of them."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS sweep_seen (id text PRIMARY KEY) ON COMMIT DROP")
    conn.execute("TRUNCATE sweep_seen")
    with conn.cursor().copy("COPY sweep_seen (id) FROM STDIN") as copy:
        for record_id in ids:
            copy.write_row((record_id,))
    target = sql.Identifier(table)
    # The read may cover only part of the table (e.g. one board's items): the rest is not its to judge.
    narrow = sql.SQL("").join(sql.SQL(" AND t.{} = %s").format(sql.Identifier(column)) for column in where or {})
    scope = (connection_id, *(where or {}).values())
    live, missing = conn.execute(
        sql.SQL("""SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM sweep_seen s WHERE s.id = t.id))
                   FROM {t} t WHERE connection_id = %s AND deleted_at IS NULL{narrow}""").format(
            t=target, narrow=narrow),
        scope,
    ).fetchone()
    if missing and live >= MIN_ROWS_FOR_GUARD and missing > live * max_share:
        raise SweepRefused(
            f"{table}: the complete read saw {len(ids)} records but {missing} of {live} loaded rows are missing "
            f"from it; refusing to mark more than {max_share:.0%} deleted at once. If they really were deleted "
            "upstream, raise sweep_max_share in the connection's settings for one run."
        )
    return conn.execute(
        sql.SQL("""UPDATE {t} t SET deleted_at = now(), run_id = %s, loaded_at = now()
                   WHERE connection_id = %s AND deleted_at IS NULL{narrow}
                     AND NOT EXISTS (SELECT 1 FROM sweep_seen s WHERE s.id = t.id)""").format(t=target, narrow=narrow),
        (run_id, *scope),
    ).rowcount


