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
    """Tombstone the live rows of `table` (narrowed to `where`) whose ids are not in `ids`, of those an earlier run
    wrote; SweepRefused when that would be more than `max_share` of them.

    A row this run wrote is not the read's to judge: the read saw it, or another of the run's streams wrote it
    from what the source held then. So a first read, whose rows are all its own, tombstones nothing and is
    answered without sending the ids (a full sync sweeps each of its streams as its last step). One case this leaves
    to the next run: a run whose change feed reached its cap reads an entity completely in a later phase of the same
    run (a plugin's plan), and a record the feed loaded and the source deleted before that read is not tombstoned
    by it; the next run's feed, which starts no later than this one's, reports the delete."""
    target = sql.Identifier(table)
    # The read may cover only part of the table (e.g. one board's items): the rest is not its to judge.
    narrow = sql.SQL("").join(sql.SQL(" AND t.{} = %s").format(sql.Identifier(column)) for column in where or {})
    scope = (connection_id, *(where or {}).values())
    earlier = sql.SQL("t.connection_id = %s AND t.deleted_at IS NULL{narrow} AND t.run_id IS DISTINCT FROM %s").format(
        narrow=narrow)
    if not conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {t} t WHERE {earlier})").format(
            t=target, earlier=earlier), (*scope, run_id)).fetchone()[0]:
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS sweep_seen (id text PRIMARY KEY) ON COMMIT DROP")
    conn.execute("TRUNCATE sweep_seen")
    with conn.cursor().copy("COPY sweep_seen (id) FROM STDIN") as copy:
        for record_id in ids:
            copy.write_row((record_id,))
    live, missing = conn.execute(
        sql.SQL("""SELECT count(*), count(*) FILTER (WHERE t.run_id IS DISTINCT FROM %s
                                                     AND NOT EXISTS (SELECT 1 FROM sweep_seen s WHERE s.id = t.id))
                   FROM {t} t WHERE t.connection_id = %s AND t.deleted_at IS NULL{narrow}""").format(
            t=target, narrow=narrow),
        (run_id, *scope),
    ).fetchone()
    if missing and live >= MIN_ROWS_FOR_GUARD and missing > live * max_share:
        raise SweepRefused(
            f"{table}: the complete read saw {len(ids)} records but {missing} of {live} loaded rows are missing "
            f"from it; refusing to mark more than {max_share:.0%} deleted at once. If they really were deleted "
            "upstream, raise sweep_max_share in the connection's settings for one run."
        )
    return conn.execute(
        sql.SQL("""UPDATE {t} t SET deleted_at = now(), run_id = %s, loaded_at = now()
                   WHERE {earlier} AND NOT EXISTS (SELECT 1 FROM sweep_seen s WHERE s.id = t.id)""").format(
            t=target, earlier=earlier),
        (run_id, *scope, run_id),
    ).rowcount


