"""sweep_deletes: after a complete read of a stream, tombstone the rows the read did not see.

Some deletes are reported nowhere (a source's change feed may show hard deletes only for a few weeks), so a
complete read is the one place they can be found. A guard refuses to tombstone most of a table at
once: an empty or truncated answer must not wipe out what is loaded.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
from psycopg import sql

from plugins import registry
from plugins.base import SourcePlugin
from shared.blob.landing import LandingZone
from shared.core.config import load_settings
from shared.core.messages import StreamKey, SweepResult
from shared.db import runs
from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.metrics import refresh_dirty

MAX_SHARE = 0.5
MIN_ROWS_FOR_GUARD = 10


class SweepRefused(RuntimeError):
    """A sweep that would tombstone too much of a table."""


def _seen_ids(conn: psycopg.Connection, plugin: SourcePlugin, landing: LandingZone, run_id: str,
              connection_id: str, stream: str) -> tuple[dict[str, set[str]], bool]:
    """Ids per target table in every page this run landed for the stream; False if some record had no id."""
    prefix = f"{connection_id}/{stream}/{run_id}/"
    refs = [r[0] for r in conn.execute(
        "SELECT page_ref FROM loaded_pages WHERE run_id = %s AND starts_with(page_ref, %s) ORDER BY page_ref",
        (run_id, prefix))]
    seen: dict[str, set[str]] = defaultdict(set)
    complete = True
    for ref in refs:
        for record in landing.read_page(ref):
            for target, part in plugin.split(stream, record):
                try:
                    seen[target].add(plugin.to_raw(target, part).id)
                except (ValueError, TypeError, KeyError, AttributeError):
                    raw_id = part.get("Id", part.get("id")) if isinstance(part, dict) else None
                    if raw_id in (None, ""):
                        complete = False
                    else:
                        seen[target].add(str(raw_id))
    return seen, complete


def _tombstone_missing(conn: psycopg.Connection, table: str, connection_id: str, run_id: str,
                       ids: set[str], max_share: float, where: dict[str, str] | None = None) -> int:
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


def sweep_deletes(request: dict[str, Any]) -> dict[str, int]:
    """Tombstone rows of the stream's tables that this run's complete read did not return."""
    settings = load_settings()
    key = StreamKey.from_json(request)
    run_id, connection_id, stream = key.run_id, key.connection_id, key.stream
    landing = LandingZone(settings.storage_connection, settings.landing_container)
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, connection_id)
        plugin = registry.get(connection.plugin)
        seen, complete = _seen_ids(conn, plugin, landing, run_id, connection_id, stream)
        if not complete:
            return SweepResult(deleted=0).to_json()
        scope = plugin.sweep_scope(stream)
        targets = scope if scope is not None else {target: {} for target in set(seen) | {stream}}
        max_share = float(connection.config.get("sweep_max_share", MAX_SHARE))
        deleted = sum(
            _tombstone_missing(conn, plugin.table(target).table, connection_id, run_id, seen.get(target, set()),
                               max_share, targets[target])
            for target in sorted(targets)
        )
        runs.add_counts(conn, run_id, connection_id, stream, deleted=deleted)
        # The buckets the tombstones touched, in the sweep's transaction.
        refresh_dirty(conn, connection_id, registry.metric_catalogs())
    return SweepResult(deleted).to_json()
