"""The QuickBooks Online plugin: full reads by keyset-paged queries, incremental runs by CDC."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import psycopg

from plugins.base import (
    BasePlugin,
    Budget,
    Connection,
    DemoSource,
    LiveBudget,
    Page,
    Plan,
    ReconciliationRow,
    StreamPlan,
)
from plugins.quickbooks import backfill, cdc, faults, paging, partition, reports, storage
from plugins.quickbooks.dashboards import DASHBOARDS
from plugins.quickbooks.demo import demo_source
from plugins.quickbooks.fields import parse_ts
from plugins.quickbooks.governor import live_budgets, realm_governor, service_limits
from plugins.quickbooks.metrics import CATALOG
from plugins.quickbooks.settings import MONTHLY_READ_QUOTA, QuickBooksSettings, read_settings
from plugins.quickbooks.streams import RECORD_ID, STREAMS, Stream
from shared.core.http import ApiClient, ApiError, RateGovernor, Response, RetryPolicy, Verdict
from shared.core.secrets import secrets_provider
from shared.db.loader import RawRecord, TableSpec
from shared.db.shared_budget import SharedBudgets
from shared.tokens.store import TokenInfo

CDC_STREAM = "cdc"
REPORTS_STREAM = "reports"
REPORT = "Report"  # the table stream the reports stream loads into
# In a keyset cursor and watermark: the server's clock at the first page of this read. It rides along from page
# to page (the next cursor is the watermark) and lands in the stored watermark, where after_run finds it; a new
# read starts without it (paging.start_cursor keeps only the keyset).
READ_STARTED = "read_started"
# A complete read fetches two years of reports; incremental runs refresh the latest window (backdated
# edits beyond it are caught by the next complete read).
REPORT_MONTHS = {"full": 24, "incremental": 6}


class QuickBooksPlugin(BasePlugin):
    name = "quickbooks"
    metrics = CATALOG
    dashboards = DASHBOARDS
    migrations = Path(__file__).with_name("migrations")
    monthly_call_quota = MONTHLY_READ_QUOTA

    def __init__(self) -> None:
        # Per realm, for callers that lend no storage; a fetch shares the realm's budget with every worker.
        self._governors: dict[str, RateGovernor] = {}

    def storage(self, db: psycopg.Connection) -> SharedBudgets:
        """The realms' request budgets every worker shares (plugins/quickbooks/governor.py)."""
        return SharedBudgets(db)

    # -- what to read -------------------------------------------------------------------------------
    def _stream(self, stream: str) -> Stream:
        try:
            return STREAMS[stream]
        except KeyError:
            raise ValueError(f"QuickBooks has no stream {stream!r}; known: {', '.join(STREAMS)}") from None

    def _entities(self, connection: Connection) -> list[str]:
        wanted = connection.config.get("streams") or list(STREAMS)
        for name in wanted:
            self._stream(name)
        return list(wanted)

    def plan(self, connection: Connection, mode: str, watermarks: dict[str, dict[str, Any]],
             calls_this_month: int, phase: int = 0, failed: Mapping[str, str] | None = None,
             store: None = None, changed: list[str] | None = None,
             since: str | None = None) -> Plan:
        """`changed` (hints from plugins/quickbooks/webhooks.py) trims an incremental run: see _focus."""
        try:
            settings = read_settings(connection)
        except ValueError as exc:
            return Plan(streams=[], refused=str(exc))
        refusal = _quota_refusal(settings, calls_this_month)
        if refusal:
            return Plan(streams=[], refused=refusal)
        entities = self._entities(connection)
        if mode == backfill.MODE:
            return backfill.plan(entities, since)
        cdc_mark = watermarks.get(CDC_STREAM)
        notes: list[str] = []
        if phase > 0:
            if CDC_STREAM in (failed or {}):
                # Its stored watermark is not this run's: the next run asks the change feed again from there.
                return Plan(streams=[])
            return _after_cdc_plan(connection, cdc_mark or {})
        if mode == "incremental" and cdc_mark and cdc.is_fresh(cdc_mark.get("since"), dt.datetime.now(dt.UTC)):
            return _incremental_plan(connection, entities, watermarks, cdc_mark, changed)
        if mode == "incremental":
            notes.append("no recent change-data-capture watermark (first run, or a gap over 30 days): "
                         "reading every entity and sweeping deletes")
        # A complete read: every record from the beginning, rows it does not see are deleted upstream.
        plans = [StreamPlan(e, _complete_read(connection, e), sweep=STREAMS[e].kind in ("txn", "list"))
                 for e in entities]
        return Plan(streams=plans + _report_plans(connection, "full"), context={"establishes_cdc": True},
                    notes=notes)

    def after_run(self, connection: Connection, context: dict[str, Any],
                  stored: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """After a complete read, change data capture starts from the earliest server time the read saw (each
        entity's keyset watermark keeps the time of its first page); after complete reads of entities CDC could
        not complete, from the window their CDC calls left pending."""
        if context.get("cdc_after"):
            return {CDC_STREAM: context["cdc_after"]}
        if not context.get("establishes_cdc"):
            return {}
        times = [parse_ts(mark[READ_STARTED]) for mark in stored.values() if mark.get(READ_STARTED)]
        if not times:
            return {}
        since = min(times) - cdc.SAFETY
        return {CDC_STREAM: {"since": since.isoformat(), "seen": {}}}

    # -- what the API shows and manages -------------------------------------------------------------
    def check_settings(self, connection: Connection) -> None:
        read_settings(connection)
        service_limits(connection.config)
        if "realm_id" in connection.config:
            _realm(connection)

    def budgets(self, connection: Connection, store: Any, calls_this_month: int, now: dt.datetime) -> list[Budget]:
        """Intuit meters calls per developer app (token refreshes included), so every connection through one Intuit
        app spends the same month's quota; `calls_this_month` is that app's."""
        settings = read_settings(connection)
        month = now.astimezone(dt.UTC).date().replace(day=1)
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        app = self.meter(connection)
        own = bool(connection.config.get("client_id_secret"))
        return [Budget("calls_this_month", calls_this_month, settings.monthly_read_quota,
                       dt.datetime.combine(next_month, dt.time(), dt.UTC),
                       shared_by=("every connection through this connection's own Intuit app" if own
                                  else "every QuickBooks connection through the app-wide Intuit app"),
                       holder=app, sync_share=settings.quota_stop_share, remedy=_QUOTA_REMEDY)]

    def meter(self, connection: Connection) -> str:
        from plugins.quickbooks.oauth import intuit_app

        return intuit_app(connection.config, connection.connection_id)

    def live_budgets(self, connection: Connection) -> list[LiveBudget]:
        """Intuit's request windows per realm (10 a second, 500 a minute), as the company's workers share them."""
        return live_budgets(_realm(connection), connection.config)

    def deferrable(self, stream: str) -> bool:
        # Reports are refreshed in windows a later run reads again; the entities are what the metrics stand on.
        return stream == REPORTS_STREAM

    def reconnect_path(self, connection: Connection) -> str | None:
        from plugins.quickbooks.routes import reconnect_url

        return reconnect_url(connection)

    def reconciliation(self, db: psycopg.Connection, connection_id: str) -> list[ReconciliationRow]:
        return storage.reconciliation(db, connection_id)

    # -- how to read --------------------------------------------------------------------------------
    async def open_api(self, connection: Connection, session: aiohttp.ClientSession,
                       store: SharedBudgets | None = None) -> ApiClient:
        realm = _realm(connection)
        refreshes = _Refreshes()
        token = await asyncio.to_thread(_access_token, connection, refreshes.add)
        session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        wait = float(connection.config.get("throttle_wait_seconds", faults.THROTTLE_WAIT_SECONDS))
        governor = realm_governor(realm, connection.config, store, self._governors)
        static = bool(connection.config.get("access_token_secret"))

        def classify(response: Response) -> Verdict:
            verdict = faults.classify(response, throttle_wait=wait)
            if static and verdict.kind == "reauth":
                # A configured token cannot be refreshed: only a new one helps.
                return Verdict("fail", f"{verdict.message}; the connection's static access token "
                               f"(secret {connection.config['access_token_secret']}) is not accepted: replace it "
                               "or reconnect this company", code=verdict.code)
            return verdict

        async def reauthorize() -> str:
            rejected = str(session.headers.get("Authorization", "")).removeprefix("Bearer ")
            renewed = await asyncio.to_thread(_renewed_token, connection, rejected, refreshes.add)
            session.headers["Authorization"] = f"Bearer {renewed}"
            return renewed

        api = ApiClient(
            session,
            classify=classify,
            # QuickBooks ends a request itself after 120 s.
            policy=RetryPolicy.from_config(connection.config, timeout=120),
            governor=governor,
            redact=(token,),
            reauthorize=None if static else reauthorize,
        )
        refreshes.count_into(api)
        return api

    async def fetch_page(self, api: ApiClient, connection: Connection, stream: str, cursor: dict[str, Any]) -> Page:
        if stream == CDC_STREAM:
            return await self._fetch_cdc(api, connection, cursor)
        if stream == REPORTS_STREAM:
            return await self._fetch_report(api, connection, cursor)
        spec = self._stream(stream)
        page_size = int(connection.config.get("page_size", paging.PAGE_SIZE))

        async def ask(query: str, urgent: bool = False, path: int = 0) -> dict[str, Any]:
            doc = (await api.request("GET", _url(connection, "query", {"query": query}), urgent=urgent,
                                     path=path)).json()
            if not isinstance(doc.get("QueryResponse"), dict):
                raise ApiError(f"QuickBooks answered the {stream} query without a QueryResponse", transient=True)
            return doc

        # A page goes ahead of those with fewer calls left on their stream's path (partition.path_of): the chains of
        # the large entities are the sync's longest path until they near their ends, and an entity a COUNT found
        # too small to split is still read page after page (governor.ORDINARY_HORIZON).
        doc = await ask(paging.query_for(spec.entity, cursor, has_active_flag=spec.has_active_flag,
                                         page_size=page_size), path=partition.path_of(cursor, page_size))
        records = doc["QueryResponse"].get(spec.entity, [])
        fresh, watermark, done, _ = paging.advance(
            cursor, records, page_size=page_size, record_id=RECORD_ID.get(spec.entity, paging.record_id_of))
        watermark = _stamp_read_start(watermark, cursor, doc.get("time"))
        if backfill.is_backfill(cursor):
            return backfill.page(fresh, watermark, done)
        if done:
            return Page(records=fresh, next_cursor=None, watermark=watermark)
        first_updated = paging.updated_of(records[0]) if records else None
        first = first_updated.isoformat() if first_updated else None
        if cursor.get(partition.SPLIT) and partition.worth_counting(first, watermark, doc.get("time")):
            # A complete read of a large entity: the rest is read through several chains at once (partition.py).
            # A throttle here (the realm's budget or a 429) drops this page too: the wait it asks for must come
            # before the next request, so the stream waits and fetches the page again.
            cut = await partition.split(functools.partial(ask, urgent=True), spec.entity, watermark,
                                        has_active_flag=spec.has_active_flag, page_size=page_size,
                                        max_chains=int(cursor[partition.SPLIT]),
                                        record_id=RECORD_ID.get(spec.entity, paging.record_id_of))
            newest = [cut.newest] if cut.newest is not None else []
            return Page(records=fresh + newest, next_cursor=cut.after, watermark=watermark, chains=cut.chains,
                        last_next=not cut.chains and partition.ends_next(cut.after, page_size))
        # A chain of a split read keeps its range's end from page to page, and a counted chain what it has left; an
        # uncounted one guesses it from this page (partition.path_of).
        before = {paging.BEFORE: cursor[paging.BEFORE]} if cursor.get(paging.BEFORE) else {}
        left = partition.counted(cursor, len(fresh)) or (
            {} if before else partition.guessed(first, watermark, doc.get("time")))
        following = {**watermark, **before, **left}
        return Page(records=fresh, next_cursor=following, watermark=watermark,
                    last_next=partition.ends_next(following, page_size))

    async def _fetch_cdc(self, api: ApiClient, connection: Connection, cursor: dict[str, Any]) -> Page:
        params = {"entities": ",".join(cdc.entities_to_ask(cursor)), "changedSince": cursor["since"]}
        doc = (await api.request("GET", _url(connection, "cdc", params))).json()
        if "CDCResponse" not in doc:
            raise ApiError("QuickBooks answered a change-data-capture request without a CDCResponse", transient=True)
        step = cdc.step(cursor, cdc.changed_objects(doc), doc.get("time"))
        return Page(records=step.records, next_cursor=step.next_cursor, watermark=step.watermark)

    async def _fetch_report(self, api: ApiClient, connection: Connection, cursor: dict[str, Any]) -> Page:
        report, basis, start, end = cursor["jobs"][cursor["next"]]
        params = reports.report_query(report, dt.date.fromisoformat(start), dt.date.fromisoformat(end), basis)
        params.pop("minorversion", None)  # _url adds the connection's own
        doc = (await api.request("GET", _url(connection, f"reports/{report}", params))).json()
        if not isinstance(doc, dict) or "Header" not in doc:
            raise ApiError(f"QuickBooks answered the {report} report without a Header", transient=True)
        record = reports.report_record(report, basis, dt.date.fromisoformat(start), dt.date.fromisoformat(end), doc)
        following = cursor["next"] + 1
        more = following < len(cursor["jobs"])
        return Page(records=[record], next_cursor={**cursor, "next": following} if more else None)

    # -- how to load --------------------------------------------------------------------------------
    def split(self, stream: str, record: dict[str, Any]):
        if stream == CDC_STREAM:
            entity = record.get("entity")
            if entity not in STREAMS:
                raise ValueError(f"CDC returned an entity this plugin does not sync: {entity!r}")
            return ((entity, record["record"]),)
        if stream == REPORTS_STREAM:
            return ((REPORT, record),)
        return ((stream, record),)

    def table(self, stream: str) -> TableSpec:
        if stream == REPORT:
            return reports.REPORT_TABLE
        return self._stream(stream).table

    def record_id(self, stream: str, record: dict[str, Any]) -> str:
        if stream == REPORT:
            return _report_raw(record).id
        self._stream(stream)
        record_id = RECORD_ID[stream](record) if stream in RECORD_ID else record.get("Id")
        if record_id in (None, ""):
            raise ValueError(f"{stream} record without an Id")
        return str(record_id)

    def to_raw(self, stream: str, record: dict[str, Any]) -> RawRecord:
        if stream == REPORT:
            return _report_raw(record)
        spec = self._stream(stream)
        meta = record.get("MetaData") if isinstance(record.get("MetaData"), dict) else {}
        record_id = self.record_id(stream, record)
        updated = parse_ts(meta.get("LastUpdatedTime"))
        if updated is None:
            # Without it no version can be told from another (the upsert guard and the windows use it).
            raise ValueError(f"{stream} {record_id} has no MetaData.LastUpdatedTime, so it cannot be versioned; "
                             "kept in quarantine instead of loaded")
        deleted = record.get("status") == "Deleted"
        return RawRecord(
            id=record_id,
            updated_at=updated,
            created_at=parse_ts(meta.get("CreateTime")),
            payload=record,
            typed=spec.fields.nulls() if deleted else spec.typed(record),
            columns=spec.fields.names,
            deleted=deleted,
        )

    # -- beyond syncing: its consent pages, token warnings and demo company --------------------------
    @property
    def router(self) -> Any:
        # Imported on demand: FastAPI and the auth dependencies are needed only where the API app includes routes.
        from plugins.quickbooks.routes import router

        return router

    def connection_warnings(self, info: TokenInfo) -> list[str]:
        from plugins.quickbooks.oauth import connection_warnings

        return connection_warnings(info)

    def demo(self) -> DemoSource:
        return demo_source()


def _stamp_read_start(watermark: dict[str, Any], cursor: dict[str, Any], server_time: str | None) -> dict[str, Any]:
    """The watermark with the server time of the read's first page (carried by the cursor after that page)."""
    started = cursor.get(READ_STARTED) or server_time
    return {**watermark, READ_STARTED: started} if started else watermark


def _realm(connection: Connection) -> str:
    realm = str(connection.config.get("realm_id", ""))
    if not realm.isdigit():
        raise ValueError(f"Connection {connection.connection_id} has no valid QuickBooks realm_id")
    return realm


def _url(connection: Connection, endpoint: str, params: dict[str, str]) -> str:
    settings = read_settings(connection)
    query = urlencode({**params, "minorversion": settings.minor_version}, quote_via=quote)
    return f"{settings.base_url}/v3/company/{_realm(connection)}/{endpoint}?{query}"


class _Refreshes:
    """Token refreshes are metered calls of the Intuit app too: counted into the fetch's client, so into api_usage
    (a refresh before the client exists is added when it is made)."""

    def __init__(self) -> None:
        self.early = 0
        self.api: ApiClient | None = None

    def add(self) -> None:
        if self.api is None:
            self.early += 1
        else:
            self.api.calls += 1

    def count_into(self, api: ApiClient) -> None:
        api.calls += self.early
        self.api = api


def _access_token(connection: Connection, on_refresh: Callable[[], None] | None = None) -> str:
    """A static token (simulator, tests) or a fresh OAuth access token from the encrypted store."""
    secret = read_settings(connection).access_token_secret
    if secret:
        return secrets_provider().get(secret)
    from plugins.quickbooks.oauth import bearer_token

    return bearer_token(connection, on_refresh=on_refresh)


def _renewed_token(connection: Connection, rejected: str, on_refresh: Callable[[], None] | None = None) -> str:
    """An access token other than the one QuickBooks just refused: refreshed now, or already by another fetch.

    A refused refresh token raises ApiError(code="invalid_grant") and marks the connection for reconnecting.
    """
    from plugins.quickbooks.oauth import bearer_token

    return bearer_token(connection, rejected=rejected, on_refresh=on_refresh)


_QUOTA_REMEDY = ("connect this company through its own Intuit app (client_id_secret and client_secret_secret naming "
                 "secrets conn-<connection id>-<word>, then reconnect), raise QBO_MONTHLY_READ_QUOTA / "
                 "quota_stop_share if your Intuit plan allows more, or make SYNC_SCHEDULE less frequent")


def _quota_refusal(settings: QuickBooksSettings, calls_this_month: int) -> str | None:
    quota, share = settings.monthly_read_quota, settings.quota_stop_share
    if calls_this_month >= quota * share:
        return (f"QuickBooks read quota: {calls_this_month:,} of {quota:,} metered calls used this month "
                f"(the limit for syncs is {share:.0%}); syncing resumes next month, or raise "
                "QBO_MONTHLY_READ_QUOTA / QBO_QUOTA_STOP_SHARE if your Intuit plan allows more")
    return None


def _incremental_plan(connection: Connection, entities: list[str], watermarks: dict[str, dict[str, Any]],
                      cdc_mark: dict[str, Any], changed: list[str] | None) -> Plan:
    """One change-data-capture stream, the entities it does not cover by query, the reports; `changed` may spare
    the last two (_focus)."""
    by_cdc = [e for e in entities if STREAMS[e].cdc]
    by_query = [e for e in entities if not STREAMS[e].cdc]
    with_reports = True
    notes: list[str] = []
    focus = _focus(changed) if changed else None
    if focus is not None:
        wanted, with_reports = focus
        skipped = [e for e in by_query if e not in wanted]
        by_query = [e for e in by_query if e in wanted]
        notes.append(_focus_note(skipped, not with_reports and bool(connection.config.get("reports", True))))
    elif changed:
        notes.append("changes announced with hints this plugin does not name: the normal incremental run")
    plans = [StreamPlan(CDC_STREAM, cdc.start_cursor(cdc_mark["since"], by_cdc, cdc_mark.get("seen")))
             ] if by_cdc else []
    plans += [StreamPlan(e, paging.start_cursor(watermarks.get(e))) for e in by_query]
    if with_reports:
        plans += _report_plans(connection, "incremental")
    # A second phase reads completely what change data capture could not complete (cdc.py).
    return Plan(streams=plans, context={"establishes_cdc": False}, notes=notes, next_phase=bool(by_cdc))


ENTITY_HINT = "entity:"
REPORTS_HINT = "reports"


def _focus(changed: list[str]) -> tuple[set[str], bool] | None:
    """What a webhook-driven incremental run reads besides change data capture: (the query-read entities the
    hints name, whether to refresh the reports); None when a hint is not one this plugin names (the normal run).

    Why change data capture stays whole: it is one call for every entity, and its window is one watermark for
    all of them; asking it about the named entities only would move that window past the others' changes. What
    the hints can spare is everything else an incremental run spends calls on: the reports (a call per report,
    basis and window, and a webhook says nothing about them) and the entities change data capture does not cover
    (TaxCode, TaxRate, CompanyInfo, Preferences, ExchangeRate), which keep their own watermarks, so the next
    scheduled run reads whatever they missed. The hints' entity names are never trusted beyond that: the records
    are read from QuickBooks, never taken from the event."""
    entities: set[str] = set()
    with_reports = False
    for hint in changed:
        if hint == REPORTS_HINT:
            with_reports = True
        elif hint.startswith(ENTITY_HINT) and hint.removeprefix(ENTITY_HINT) in STREAMS:
            entities.add(hint.removeprefix(ENTITY_HINT))
        else:
            return None
    return entities, with_reports


def _focus_note(skipped: list[str], reports_wait: bool) -> str:
    waiting = [*skipped, *(["the reports"] if reports_wait else [])]
    note = "changes announced: change data capture over every entity"
    if waiting:
        note += f"; {', '.join(waiting)} wait for the next scheduled run"
    return note


def _after_cdc_plan(connection: Connection, cdc_mark: dict[str, Any]) -> Plan:
    """The phase after the CDC stream: complete reads (with a delete sweep) of the entities that were at the
    cap on their own, and a note on the run whenever the cap was hit. The stored CDC watermark is the one
    this run's CDC stream just wrote (the phase is not planned when that stream failed)."""
    note = cdc.cap_note(cdc_mark)
    reads = list(cdc_mark.get("complete_reads") or []) if note else []
    streams = [StreamPlan(entity, _complete_read(connection, entity), sweep=True) for entity in reads
               if entity in STREAMS]
    context = {"cdc_after": cdc_mark["pending"]} if reads else {}
    return Plan(streams=streams, context=context, notes=[note] if note else [])


def _complete_read(connection: Connection, entity: str) -> dict[str, Any]:
    """The first cursor of a complete read. An entity change data capture covers may be split into several chains
    once its first page is full (partition.py): its keyset watermark then only marks when the read began (the
    entities read by query in incremental runs keep one chain, so their watermark stays the newest record's)."""
    cursor = paging.start_cursor(None)
    if not STREAMS[entity].cdc or STREAMS[entity].kind not in ("txn", "list"):
        return cursor
    return partition.first_cursor(cursor, int(connection.config.get("max_chains", partition.MAX_CHAINS)))


def _report_plans(connection: Connection, mode: str) -> list[StreamPlan]:
    """One stream fetching each report, basis and window in turn (each request at most six months)."""
    if not connection.config.get("reports", True):
        return []
    months = int(connection.config.get("report_months", REPORT_MONTHS[mode]))
    today = dt.datetime.now(dt.UTC).date()
    windows = reports.report_windows(_months_back(today, months - 1), today)
    jobs = [[report, basis, s.isoformat(), e.isoformat()]
            for report in reports.REPORTS for basis in reports.METHODS for s, e in windows]
    return [StreamPlan(REPORTS_STREAM, {"jobs": jobs, "next": 0})]


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def _report_raw(record: dict[str, Any]) -> RawRecord:
    doc = record["doc"]
    return RawRecord(
        id=reports.report_id(record),
        updated_at=reports.report_generated_at(doc),
        payload=reports.without_run_time(doc),
        typed=reports.REPORT_FIELDS.read(record),
        columns=reports.REPORT_FIELDS.names,
    )
