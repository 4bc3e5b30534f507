"""sweep_deletes: after a complete read of a stream, tombstone the rows the read did not see.

Some deletes are reported nowhere (a source's change feed may show hard deletes only for a few weeks), so a
complete read is the one place they can be found. A guard refuses to tombstone most of a table at
once: an empty or truncated answer must not wipe out what is loaded.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from activities.seen_ids import record_ids
from activities.stream_end import refresh_at_stream_end
from plugins import registry
from plugins.base import SourcePlugin
from shared.blob.landing import LandingZone
from shared.core.config import load_settings
from shared.core.gcpause import collector_paused
from shared.core.messages import StreamKey, SweepResult
from shared.db import runs
from shared.db.connections import get_connection
from shared.db.pages import forget_seen_ids, seen_ids_of
from shared.db.pool import lend
from shared.db.sweep import MAX_SHARE, tombstone_missing


def _seen_ids(conn: psycopg.Connection, plugin: SourcePlugin, landing: LandingZone, run_id: str,
              connection_id: str, stream: str) -> tuple[dict[str, set[str]], bool, list[str]]:
    """Ids per target table in every page this run landed for the stream; False if some record had no id; the
    pages whose kept ids were read.

    A page's load kept its ids (shared/db/pages.py keep_seen_ids); a page without them (loaded by an older
    version, or holding a record only a parse can judge) is downloaded and parsed as before."""
    prefix = f"{connection_id}/{stream}/{run_id}/"
    seen: dict[str, set[str]] = defaultdict(set)
    complete = True
    kept: list[str] = []
    for ref, ids in seen_ids_of(conn, run_id, prefix):
        if ids is not None:
            for target, values in ids.items():
                seen[target].update(values)
            kept.append(ref)
            continue
        for record in landing.read_page(ref):
            found = record_ids(plugin, stream, record)
            if found is None:
                complete = False
                continue
            for target, record_id in found:
                seen[target].add(record_id)
    return seen, complete, kept


def sweep_deletes(request: dict[str, Any]) -> dict[str, int]:
    """Tombstone rows of the stream's tables that this run's complete read did not return."""
    settings = load_settings()
    key = StreamKey.from_json(request)
    run_id, connection_id, stream = key.run_id, key.connection_id, key.stream
    landing = LandingZone(settings.storage, settings.landing_container)
    with lend() as conn, conn.transaction():
        connection = get_connection(conn, connection_id)
        plugin = registry.get(connection.plugin)
        with collector_paused():  # the pages' records are trees the collector would only traverse (as a load's)
            seen, complete, kept = _seen_ids(conn, plugin, landing, run_id, connection_id, stream)
        # Read once: with the sweep's commit they go (a retried sweep parses those pages instead).
        forget_seen_ids(conn, kept)
        if not complete:
            return SweepResult(deleted=0).to_json()
        scope = plugin.sweep_scope(stream)
        targets = scope if scope is not None else {target: {} for target in set(seen) | {stream}}
        max_share = float(connection.config.get("sweep_max_share", MAX_SHARE))
        deleted = sum(
            tombstone_missing(conn, plugin.table(target).table, connection_id, run_id, seen.get(target, set()),
                               max_share, targets[target])
            for target in sorted(targets)
        )
        runs.add_counts(conn, run_id, connection_id, stream, deleted=deleted)
        if deleted:
            # The buckets the tombstones touched, in the sweep's transaction (or left to the connection's refresh,
            # stream_end.py); a sweep that tombstoned nothing has nothing of its own to refresh.
            refresh_at_stream_end(conn, run_id, connection_id, stream)
    return SweepResult(deleted).to_json()
