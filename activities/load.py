"""load_pages: landed blobs -> COPY -> staging -> upsert, with watermark and counts, in ONE transaction."""

from __future__ import annotations

from typing import Any

from plugins.base import SourcePlugin, load_plugin
from shared.config import load_settings
from shared.db import runs
from shared.db.connect import connect
from shared.db.connections import get_connection, set_watermark
from shared.db.loader import RawRecord, UpsertCounts, upsert_records
from shared.landing import LandingZone


class BadRecord(ValueError):
    """A landed record the plugin cannot read; names the page and the record."""


def _raw_records(plugin: SourcePlugin, stream: str, landing: LandingZone, ref: str):
    for position, record in enumerate(landing.read_page(ref), start=1):
        try:
            yield plugin.to_raw(stream, record)
        except (ValueError, TypeError, KeyError) as exc:
            record_id = record.get("Id", record.get("id", "?")) if isinstance(record, dict) else "?"
            raise BadRecord(f"{stream} record {record_id} (#{position} of page {ref}) is unreadable: {exc}") from exc


def load_pages(request: dict[str, Any]) -> dict[str, int]:
    """Load landed pages once each; a retried load skips pages an earlier attempt committed."""
    settings = load_settings()
    run_id, connection_id, stream = request["run_id"], request["connection_id"], request["stream"]
    landing = LandingZone(settings.storage_connection, settings.landing_container)
    totals = UpsertCounts()
    pages_loaded = 0
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, connection_id)
        plugin = load_plugin(connection.plugin)
        spec = plugin.table(stream)
        for page in request["pages"]:
            first_time = conn.execute(
                """INSERT INTO loaded_pages (page_ref, run_id, records) VALUES (%s, %s, %s)
                   ON CONFLICT (page_ref) DO NOTHING RETURNING 1""",
                (page["ref"], run_id, page["records"]),
            ).fetchone()
            if not first_time:
                continue
            records: Any = _raw_records(plugin, stream, landing, page["ref"])
            totals.add(upsert_records(conn, spec, connection_id, run_id, records, batch_rows=settings.load_batch_rows))
            pages_loaded += 1
        if request["pages"] and request["pages"][-1].get("watermark"):
            set_watermark(conn, connection_id, stream, request["pages"][-1]["watermark"], run_id)
        runs.add_counts(
            conn, run_id, connection_id, stream,
            pages=pages_loaded, fetched=totals.staged, inserted=totals.inserted,
            updated=totals.updated, unchanged=totals.unchanged, deleted=totals.deleted,
        )
    return {
        "pages": pages_loaded, "fetched": totals.staged, "inserted": totals.inserted,
        "updated": totals.updated, "unchanged": totals.unchanged, "deleted": totals.deleted,
    }


__all__ = ["BadRecord", "RawRecord", "load_pages"]
