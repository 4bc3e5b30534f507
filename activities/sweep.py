"""sweep_deletes: after a complete read of a stream, tombstone the rows the read did not see.

Some deletes are reported nowhere (a source's change feed may show hard deletes only for a few weeks), so a
complete read is the one place they can be found. A guard refuses to tombstone most of a table at
once: an empty or truncated answer must not wipe out what is loaded.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from plugins import registry
from plugins.base import SourcePlugin
from shared.blob.landing import LandingZone
from shared.core.config import load_settings
from shared.core.gcpause import collector_paused
from shared.core.messages import StreamKey, SweepResult
from shared.db import runs
from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.db.pages import pages_of
from shared.db.sweep import MAX_SHARE, tombstone_missing
from shared.metrics import refresh_dirty


def _seen_ids(conn: psycopg.Connection, plugin: SourcePlugin, landing: LandingZone, run_id: str,
              connection_id: str, stream: str) -> tuple[dict[str, set[str]], bool]:
    """Ids per target table in every page this run landed for the stream; False if some record had no id."""
    prefix = f"{connection_id}/{stream}/{run_id}/"
    refs = pages_of(conn, run_id, prefix)
    seen: dict[str, set[str]] = defaultdict(set)
    complete = True
    for ref in refs:
        for record in landing.read_page(ref):
            for target, part in plugin.split(stream, record):
                try:
                    # Only the id: typing each record again (to_raw) was half of a sweep's time.
                    seen[target].add(plugin.record_id(target, part))
                except (ValueError, TypeError, KeyError, AttributeError):
                    raw_id = part.get("Id", part.get("id")) if isinstance(part, dict) else None
                    if raw_id in (None, ""):
                        complete = False
                    else:
                        seen[target].add(str(raw_id))
    return seen, complete


def sweep_deletes(request: dict[str, Any]) -> dict[str, int]:
    """Tombstone rows of the stream's tables that this run's complete read did not return."""
    settings = load_settings()
    key = StreamKey.from_json(request)
    run_id, connection_id, stream = key.run_id, key.connection_id, key.stream
    landing = LandingZone(settings.storage, settings.landing_container)
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, connection_id)
        plugin = registry.get(connection.plugin)
        with collector_paused():  # the pages' records are trees the collector would only traverse (as a load's)
            seen, complete = _seen_ids(conn, plugin, landing, run_id, connection_id, stream)
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
        # The buckets the tombstones touched, in the sweep's transaction.
        refresh_dirty(conn, connection_id, registry.metric_catalogs())
    return SweepResult(deleted).to_json()
