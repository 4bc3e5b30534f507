"""The QuickBooks Online plugin: streams read through the query endpoint with keyset paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from plugins.base import BasePlugin, Connection, Page, StreamPlan
from plugins.quickbooks import faults
from plugins.quickbooks.paging import PAGE_SIZE, advance, query_for, start_cursor
from plugins.quickbooks.streams import STREAMS, Stream, parse_ts
from shared.config import load_settings
from shared.db.loader import RawRecord, TableSpec
from shared.http import ApiClient, ApiError, RateGovernor, RetryPolicy
from shared.secrets import secrets_provider

# Intuit's limits per realm: 10 requests/s and 500/min.
REALM_LIMITS = [(10, 1.0), (500, 60.0)]


class QuickBooksPlugin(BasePlugin):
    name = "quickbooks"

    def __init__(self) -> None:
        self._governors: dict[str, RateGovernor] = {}

    def _stream(self, stream: str) -> Stream:
        try:
            return STREAMS[stream]
        except KeyError:
            raise ValueError(f"QuickBooks has no stream {stream!r}; known: {', '.join(STREAMS)}") from None

    def streams(self, connection: Connection) -> list[str]:
        wanted = connection.config.get("streams") or list(STREAMS)
        for name in wanted:
            self._stream(name)
        return list(wanted)

    def plan(self, connection: Connection, stream: str, mode: str, watermark: dict[str, Any] | None) -> StreamPlan:
        self._stream(stream)
        return StreamPlan(stream, start_cursor(watermark if mode == "incremental" else None))

    def api_client(self, connection: Connection, session: aiohttp.ClientSession) -> ApiClient:
        realm = _realm(connection)
        token = secrets_provider().get(connection.config.get("access_token_secret", f"qbo-{realm}-access-token"))
        session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        wait = float(connection.config.get("throttle_wait_seconds", faults.THROTTLE_WAIT_SECONDS))
        governor = self._governors.setdefault(realm, RateGovernor(REALM_LIMITS))
        return ApiClient(
            session,
            classify=lambda response: faults.classify(response, throttle_wait=wait),
            policy=RetryPolicy(attempts=int(connection.config.get("retry_attempts", 5)),
                               base_delay=float(connection.config.get("retry_base_delay", 0.5))),
            governor=governor,
            redact=(token,),
        )

    async def fetch_page(self, api: ApiClient, connection: Connection, stream: str, cursor: dict[str, Any]) -> Page:
        spec = self._stream(stream)
        page_size = int(connection.config.get("page_size", PAGE_SIZE))
        query = query_for(spec.entity, cursor, has_active_flag=spec.has_active_flag, page_size=page_size)
        base = connection.config.get("base_url") or load_settings().qbo_base_url
        minor = int(connection.config.get("minor_version", load_settings().qbo_minor_version))
        url = f"{base}/v3/company/{_realm(connection)}/query?query={quote(query)}&minorversion={minor}"
        response = await api.request("GET", url)
        doc = response.json()
        body = doc.get("QueryResponse")
        if not isinstance(body, dict):
            raise ApiError(f"QuickBooks answered the {stream} query without a QueryResponse", transient=True)
        records = body.get(spec.entity, [])
        fresh, watermark, done, dropped = advance(cursor, records, page_size=page_size)
        return Page(records=fresh, next_cursor=None if done else watermark, watermark=watermark,
                    dropped_duplicates=dropped)

    def table(self, stream: str) -> TableSpec:
        return self._stream(stream).table

    def to_raw(self, stream: str, record: dict[str, Any]) -> RawRecord:
        spec = self._stream(stream)
        meta = record.get("MetaData") or {}
        updated = parse_ts(meta.get("LastUpdatedTime"))
        if record.get("Id") in (None, "") or updated is None:
            raise ValueError(f"{stream} record without Id or MetaData.LastUpdatedTime")
        deleted = record.get("status") == "Deleted"
        return RawRecord(
            id=str(record["Id"]),
            updated_at=updated,
            created_at=parse_ts(meta.get("CreateTime")),
            payload=record,
            typed=(None,) * len(spec.table.columns) if deleted else spec.typed(record),
            deleted=deleted,
        )


def _realm(connection: Connection) -> str:
    realm = str(connection.config.get("realm_id", ""))
    if not realm.isdigit():
        raise ValueError(f"Connection {connection.connection_id} has no valid QuickBooks realm_id")
    return realm
