"""Bulk upsert of raw records: binary COPY into a TEMP stage, then a deduplicating, version-guarded upsert.

An older version of a record never overwrites a newer one, and a tombstone keeps the last known
payload and typed values beside its deletion time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from shared.core.fastjson import dumps_compact
from shared.db.copy_text import INTEGER_RANGES, TextRow, numeric_out_of_range, out_of_range, row_renderer
from shared.db.storable import unstorable


@dataclass(frozen=True)
class Column:
    """A typed column extracted from the source record."""

    name: str
    pg_type: str


@dataclass(frozen=True)
class ChildTable:
    """Rows owned by a parent record (e.g. transaction lines), replaced whenever the parent version changes.

    Its rows are (connection_id, <fixed values>, parent id, *columns); `rows` derives the columns from the
    parent's payload, and `text_rows` renders them as COPY's text format takes them (shared.db.copy_text).
    """

    table: str
    parent_column: str
    columns: tuple[Column, ...]
    rows: Callable[[dict[str, Any]], list[tuple[Any, ...]]]
    fixed: tuple[tuple[str, str], ...] = ()
    _render: Callable[[tuple[Any, ...]], TextRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once per table, and refused here for a column type it cannot render, not at the first load.
        object.__setattr__(self, "_render", row_renderer(self.columns))

    def text_rows(self, payload: dict[str, Any]) -> list[TextRow]:
        """The parent's child rows as text, each value checked against its column's type: a ValueError naming the
        table and the column says what cannot be loaded (the load quarantines that parent)."""
        try:
            return [self._render(row) for row in self.rows(payload)]
        except (ValueError, TypeError, ArithmeticError, LookupError, AttributeError) as exc:
            raise ValueError(f"{self.table}: {exc}") from exc


@dataclass(frozen=True)
class TableSpec:
    """A raw table: common columns (see COMMON_HEAD/COMMON_TAIL) plus the stream's typed columns."""

    table: str
    columns: tuple[Column, ...]
    # Compared as a row, newest wins; a version column may be NULL (treated as lowest). Empty: the source
    # has no version for this entity, so a row is rewritten when its content differs and it was observed
    # no earlier than the stored one (updated_at then holds the observation time).
    version: tuple[str, ...] = ("updated_at",)
    children: tuple[ChildTable, ...] = ()
    # (position, name, type) of the typed columns of an integer type, and (position, name) of the numeric and the
    # JSON ones (check_typed), found once.
    integer_columns: tuple[tuple[int, str, str], ...] = field(init=False, repr=False, compare=False)
    numeric_columns: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)
    json_columns: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in (*COMMON_HEAD, *self.columns, *COMMON_TAIL, Column("loaded_at", "timestamptz"))]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"{self.table}: columns named twice (or named like a common column): {', '.join(twice)}")
        object.__setattr__(self, "integer_columns", tuple(
            (index, column.name, column.pg_type) for index, column in enumerate(self.columns)
            if column.pg_type in INTEGER_RANGES))
        object.__setattr__(self, "numeric_columns", tuple(
            (index, column.name) for index, column in enumerate(self.columns) if column.pg_type == "numeric"))
        object.__setattr__(self, "json_columns", tuple(
            (index, column.name) for index, column in enumerate(self.columns) if column.pg_type in ("json", "jsonb")))


COMMON_HEAD = (
    Column("connection_id", "text"),
    Column("id", "text"),
    Column("created_at", "timestamptz"),
    Column("updated_at", "timestamptz"),
    Column("deleted_at", "timestamptz"),
)
COMMON_TAIL = (Column("payload", "jsonb"), Column("run_id", "text"))
KEY = ("connection_id", "id")


@dataclass(frozen=True)
class RawRecord:
    """One source record ready to load; `typed` is read by the table's Fields (shared.db.fields) and `columns`
    names its values, which must be the TableSpec's columns in order."""

    id: str
    updated_at: dt.datetime
    payload: dict[str, Any]
    typed: tuple[Any, ...] = ()
    created_at: dt.datetime | None = None
    deleted: bool = False
    columns: tuple[str, ...] | None = None  # the names of `typed`, in order: the Fields' names that read them
    # The payload as the JSON text it was read from (a landed page's line), loaded as it is instead of being
    # serialised again; None: `payload` is serialised. Set by the load, only when `payload` is that record.
    payload_json: bytes | None = None


def check_typed(spec: TableSpec, record: RawRecord) -> None:
    """Raises ValueError naming the column when a typed value is an integer its column cannot hold (binary COPY
    would store it wrapped around, not refuse it), a number beyond PostgreSQL's numeric (its COPY would fail), or a
    JSON value holding what PostgreSQL cannot store (made from JSON the record held as text, which the load's check
    of the record could not see)."""
    _check_integers(spec, record)
    typed = record.typed
    for index, name in spec.numeric_columns:
        if index < len(typed) and (beyond := numeric_out_of_range(typed[index])) is not None:
            raise ValueError(f"column {name}: {beyond}")
    for index, name in spec.json_columns:
        value = record.typed[index] if index < len(record.typed) else None
        if value is not None and (found := unstorable(value.obj if isinstance(value, Jsonb) else value)):
            raise ValueError(f"column {name}: {found}")


def _check_integers(spec: TableSpec, record: RawRecord) -> None:
    for index, name, pg_type in spec.integer_columns:
        if index < len(record.typed) and out_of_range(record.typed[index], pg_type):
            raise ValueError(f"column {name}: {record.typed[index]} is out of range for type {pg_type}")


def compact_json(value: Any) -> bytes:
    """JSON without the spaces json.dumps puts after separators (jsonb drops them anyway), e.g. Jsonb(x,
    dumps=compact_json): a module-level function, so psycopg caches one dumper for it."""
    return dumps_compact(value)


def as_written(text: bytes) -> bytes:
    """The dumps of a Jsonb holding JSON text that is loaded as written (RawRecord.payload_json)."""
    return text


@dataclass
class UpsertCounts:
    staged: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def unchanged(self) -> int:
        return self.staged - self.inserted - self.updated - self.deleted

    def add(self, other: UpsertCounts) -> None:
        self.staged += other.staged
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted


@dataclass
class _Statements:
    create_stage: sql.Composed
    copy: sql.Composed
    upsert: sql.Composed
    truncate: sql.Composed
    types: list[str] = field(default_factory=list)


def _columns(spec: TableSpec) -> tuple[Column, ...]:
    return COMMON_HEAD + spec.columns + COMMON_TAIL


def _statements(spec: TableSpec) -> _Statements:
    cols = _columns(spec)
    names = [c.name for c in cols]
    target = sql.Identifier(spec.table)
    stage = sql.Identifier(f"stage_{spec.table}")
    ident_list = sql.SQL(", ").join(map(sql.Identifier, names))
    kept_on_tombstone = [c.name for c in spec.columns] + ["payload"]
    assignments = [
        sql.SQL("updated_at = EXCLUDED.updated_at"),
        sql.SQL("deleted_at = EXCLUDED.deleted_at"),
        sql.SQL("run_id = EXCLUDED.run_id"),
        sql.SQL("loaded_at = now()"),
        sql.SQL("created_at = COALESCE(EXCLUDED.created_at, t.created_at)"),
    ] + [
        sql.SQL("{c} = CASE WHEN EXCLUDED.deleted_at IS NULL THEN EXCLUDED.{c} ELSE t.{c} END").format(
            c=sql.Identifier(name)
        )
        for name in kept_on_tombstone
    ]

    def version_row(alias: str) -> sql.Composable:
        # NULL versions (a tombstone has no sync token) sort lowest, never as "unknown".
        parts = [
            sql.SQL("COALESCE({a}.{c}, {low})").format(
                a=sql.Identifier(alias),
                c=sql.Identifier(c),
                low=sql.SQL("'-infinity'::timestamptz" if c.endswith("_at") else "-1"),
            )
            for c in spec.version
        ]
        return sql.SQL("ROW({})").format(sql.SQL(", ").join(parts))

    order_desc = sql.SQL(", ").join(
        sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(c)) for c in spec.version or ("updated_at",)
    )
    if spec.version:
        newer = sql.SQL("{} < {}").format(version_row("t"), version_row("excluded"))
    else:
        newer = sql.SQL("t.payload IS DISTINCT FROM EXCLUDED.payload AND t.updated_at <= EXCLUDED.updated_at")
    upsert = sql.SQL(
        """WITH already_gone AS (
             -- A tombstone that lands on a tombstone (a delete the sweep found, then reported by the source
             -- with its real time) refines the row but deletes nothing: it must not count as a delete again.
             SELECT s.id FROM {stage} s JOIN {target} p ON p.connection_id = s.connection_id AND p.id = s.id
             WHERE s.deleted_at IS NOT NULL AND p.deleted_at IS NOT NULL
           ), written AS (
             INSERT INTO {target} AS t ({cols})
             SELECT DISTINCT ON (connection_id, id) {cols} FROM {stage}
             ORDER BY connection_id, id, {order_desc}, (deleted_at IS NOT NULL) DESC
             ON CONFLICT (connection_id, id) DO UPDATE SET {assignments}
             WHERE {newer}
             RETURNING id, (xmax = 0) AS inserted, (deleted_at IS NOT NULL) AS deleted)
           SELECT id, inserted, deleted, id IN (SELECT id FROM already_gone) AS refined FROM written"""
    ).format(
        target=target,
        cols=ident_list,
        stage=stage,
        order_desc=order_desc,
        assignments=sql.SQL(", ").join(assignments),
        newer=newer,
    )
    return _Statements(
        create_stage=sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(stage=stage, target=target),
        copy=sql.SQL("COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)").format(stage=stage, cols=ident_list),
        upsert=upsert,
        truncate=sql.SQL("TRUNCATE {stage}").format(stage=stage),
        types=[c.pg_type for c in cols],
    )


_NOT_CHECKED = object()


def _typed_names_checked(spec: TableSpec, rec: RawRecord) -> tuple[str, ...] | None:
    """rec.columns once they are the table's columns in order (later records naming the same tuple pass at once)."""
    expected = tuple(c.name for c in spec.columns)
    names = rec.columns
    if names is None:
        if not expected and not rec.typed:
            return None
        # Bare values say nothing about which is which column: swapped ones would load silently.
        raise ValueError(f"{spec.table}: record {rec.id} gives its typed values without their column names; "
                         "read them with the table's shared.db.fields.Fields and pass columns=fields.names")
    if names != expected or len(rec.typed) != len(expected):
        wrong = next((i for i, pair in enumerate(zip(names, expected, strict=False)) if pair[0] != pair[1]),
                     min(len(names), len(expected)))
        raise ValueError(
            f"{spec.table}: record {rec.id} has {len(rec.typed)} typed values for ({', '.join(names)}) but the "
            f"table's columns are ({', '.join(expected)}): they differ first at position {wrong + 1}")
    return names


def _rows(spec: TableSpec, connection_id: str, run_id: str, records: Iterable[RawRecord]) -> Iterator[tuple]:
    checked: object = _NOT_CHECKED
    width = len(spec.columns)
    integers = spec.integer_columns
    for rec in records:
        if rec.updated_at.tzinfo is None:
            raise ValueError(f"{spec.table}: record {rec.id} has a naive updated_at; a time zone is required")
        if rec.columns is not checked or len(rec.typed) != width:
            checked = _typed_names_checked(spec, rec)
        if integers:
            try:
                # What binary COPY would store wrapped around; a load checked it when it read the record
                # (check_typed), so this is a caller that did not: refused, never stored wrong.
                _check_integers(spec, rec)
            except ValueError as exc:
                raise ValueError(f"{spec.table}: record {rec.id}: {exc}") from exc
        deleted_at = rec.updated_at if rec.deleted else None
        yield (
            connection_id, rec.id, rec.created_at, rec.updated_at, deleted_at,
            *rec.typed,
            Jsonb(rec.payload_json, dumps=as_written) if rec.payload_json is not None
            else Jsonb(rec.payload, dumps=compact_json), run_id,
        )


class UnwritableRecords(ValueError):
    """Records whose child rows could not be made, found as their parents' children were written: the caller's
    transaction holds their parents' rows and the others' children, and must be rolled back (upsert_records with
    `unreadable` then leaves such records out before writing anything)."""

    def __init__(self, table: str, failures: list[tuple[RawRecord, ValueError]]) -> None:
        self.failures = failures
        record, exc = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"{table}: record {record.id}: {exc}{more}")


def _replace_children(conn: psycopg.Connection, spec: TableSpec, connection_id: str, winners: dict[str, RawRecord],
                      written: list[tuple[str, bool, bool]],
                      rows_of: dict[int, tuple[list[TextRow], ...]] | None) -> None:
    """Children of every parent written now are replaced by the ones in its new payload (kept on a tombstone): the
    rows made before (`rows_of`, by id() of the record), or made here, as they are written. Raises
    UnwritableRecords, once every child table has been written, for the parents whose rows could not be made."""
    failures: dict[int, tuple[RawRecord, ValueError]] = {}
    replaced = [rid for rid, _, deleted in written if not deleted]
    # A newly inserted parent has no children yet: deleting only for updated ones keeps a first load free of
    # DELETEs that would scan a child table growing, unanalysed, within the load's transaction (measured: 100k
    # invoices fell from 33,500 to 2,400 rows/s). Children outliving a parent row deleted by hand would make
    # the COPY fail on the child's primary key: delete a parent's children with it.
    updated = [rid for rid, inserted, deleted in written if not inserted and not deleted]
    if not replaced:
        return
    for index, child in enumerate(spec.children):
        fixed_names = [name for name, _ in child.fixed]
        fixed_values = tuple(value for _, value in child.fixed)
        where_fixed = sql.SQL("").join(
            sql.SQL(" AND {} = %s").format(sql.Identifier(name)) for name in fixed_names
        )
        if updated:
            conn.execute(
                sql.SQL("DELETE FROM {t} WHERE connection_id = %s{fixed} AND {parent} = ANY(%s)").format(
                    t=sql.Identifier(child.table), fixed=where_fixed, parent=sql.Identifier(child.parent_column)
                ),
                (connection_id, *fixed_values, updated),
            )
        names = ["connection_id", *fixed_names, child.parent_column, *(c.name for c in child.columns)]
        # Text format, the values rendered by copy_text: psycopg's binary COPY of the same rows took 190-250 ms of
        # CPU per 17,500 invoice lines against 55-90 ms (dumping each Decimal and jsonb value in Python), besides the
        # 250 ms of making the rows either way (docs/SCALING.md). Made as they are written, a parent at a time, so
        # PostgreSQL works on the rows sent while the next are made: made first, a first load took 8 % longer.
        copy_sql = sql.SQL("COPY {t} ({cols}) FROM STDIN").format(
            t=sql.Identifier(child.table), cols=sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for rid in replaced:
                record = winners[rid]
                if rows_of is not None:
                    rows = rows_of[id(record)][index]
                elif id(record) in failures:
                    continue
                else:
                    try:
                        rows = child.text_rows(record.payload)
                    except ValueError as exc:
                        failures[id(record)] = (record, exc)
                        continue
                head = (connection_id, *fixed_values, rid)
                for row in rows:
                    copy.write_row(head + row)
    if failures:
        raise UnwritableRecords(spec.table, list(failures.values()))


def _comparable(values: Iterable[Any]) -> tuple[tuple[bool, Any], ...]:
    """Version values ordered as the upsert orders them: one (known, value) pair each, NULL lowest."""
    return tuple((v is not None, v if v is not None else 0) for v in values)


def _version_reader(spec: TableSpec) -> Callable[[RawRecord], tuple[tuple[bool, Any], ...]]:
    """A record's version as the upsert compares it (updated_at for a source without version columns)."""
    typed_index = {c.name: i for i, c in enumerate(spec.columns)}

    def value_of(name: str) -> Callable[[RawRecord], Any]:
        if name in typed_index:
            index = typed_index[name]
            return lambda rec: rec.typed[index]
        return lambda rec: getattr(rec, name)  # updated_at, created_at

    getters = [value_of(name) for name in spec.version or ("updated_at",)]
    return lambda rec: _comparable(get(rec) for get in getters)


# Ids of a batch looked up before all of them are (see _newer_than_stored).
_PROBED_IDS = 8


def _newer_than_stored(conn: psycopg.Connection, spec: TableSpec, connection_id: str,
                       chunk: list[RawRecord]) -> list[RawRecord]:
    """The records the version-guarded upsert could write: those newer than the stored row, or without one.

    The others would be staged, their payloads parsed into jsonb, and their conflict found, to write nothing:
    on a re-sync where 10% of 100k invoices changed, that was most of the server's work. Read with the same
    order as the upsert's guard (a stored version at least as new writes nothing); a value that cannot be
    compared keeps its record, and the upsert decides. Stored versions only grow under that guard, so a row
    another transaction commits meanwhile can only make a kept record unchanged, which the upsert still finds.

    A few of the ids are looked up first: when none is stored (a first load's pages) the batch goes to the
    upsert whole, which is always correct, without looking up every id (about 5 ms of the server's ~100 per
    1,000-invoice page, measured).
    """
    query = sql.SQL("SELECT id, {versions} FROM {table} WHERE connection_id = %s AND id = ANY(%s)").format(
        versions=sql.SQL(", ").join(map(sql.Identifier, spec.version)), table=sql.Identifier(spec.table))
    sample = chunk[::max(1, len(chunk) // _PROBED_IDS)]
    if not conn.execute(query, (connection_id, [rec.id for rec in sample])).fetchone():
        return chunk
    stored = conn.execute(query, (connection_id, [rec.id for rec in chunk])).fetchall()
    current = {row[0]: _comparable(row[1:]) for row in stored}
    version = _version_reader(spec)
    kept = []
    for rec in chunk:
        held = current.get(rec.id)
        try:
            if held is not None and not version(rec) > held:
                continue
        except TypeError:  # e.g. a value of another type than the column's: the upsert compares it
            pass
        kept.append(rec)
    return kept


def _winners(spec: TableSpec, batch: list[RawRecord]) -> dict[str, RawRecord]:
    """Each id's record as the upsert's DISTINCT ON picks it: newest version first, a tombstone before its twin."""
    version = _version_reader(spec)
    best: dict[str, RawRecord] = {}
    for rec in batch:
        current = best.get(rec.id)
        if current is None or (*version(rec), rec.deleted) > (*version(current), current.deleted):
            best[rec.id] = rec
    return best


def _rendered(spec: TableSpec, batch: list[RawRecord], rows_of: dict[int, tuple[list[TextRow], ...]],
              unreadable: Callable[[RawRecord, ValueError], None]) -> list[RawRecord]:
    """The batch without the records whose child rows cannot be made, each handed to `unreadable`; the others' rows
    in `rows_of`, by id() of the record. Only records the upsert may write get here: making the rows of every
    record read slowed a 10% pass (docs/SCALING.md). A tombstone's children stay: it has none made."""
    kept = []
    for record in batch:
        if not record.deleted:
            try:
                rows_of[id(record)] = tuple(child.text_rows(record.payload) for child in spec.children)
            except ValueError as exc:
                unreadable(record, exc)
                continue
        kept.append(record)
    return kept


def upsert_records(
    conn: psycopg.Connection,
    spec: TableSpec,
    connection_id: str,
    run_id: str,
    records: Iterable[RawRecord],
    *,
    batch_rows: int = 5000,
    unreadable: Callable[[RawRecord, ValueError], None] | None = None,
) -> UpsertCounts:
    """Load records into spec.table inside the caller's transaction; returns what changed.

    A record whose child rows cannot be made: without `unreadable`, UnwritableRecords is raised after its chunk was
    written (roll the transaction back); with it, each chunk's child rows are made before its upsert and such a
    record is handed to `unreadable` and left out (not counted as staged). The first keeps the rows' making beside
    PostgreSQL's work on the COPY; the second costs that overlap (a load retries with it when the first raises)."""
    stmts = _statements(spec)
    totals = UpsertCounts()
    conn.execute(stmts.create_stage)
    source = iter(records)
    while chunk := list(islice(source, batch_rows)):
        batch = _newer_than_stored(conn, spec, connection_id, chunk) if spec.version else chunk
        rows_of: dict[int, tuple[list[TextRow], ...]] | None = None
        if spec.children and unreadable is not None:
            rows_of, considered = {}, len(batch)
            batch = _rendered(spec, batch, rows_of, unreadable)
            chunk_staged = len(chunk) - (considered - len(batch))
        else:
            chunk_staged = len(chunk)
        if not batch:
            totals.add(UpsertCounts(staged=chunk_staged))
            continue
        with conn.cursor() as cur:
            with cur.copy(stmts.copy) as copy:
                copy.set_types(stmts.types)
                for row in _rows(spec, connection_id, run_id, batch):
                    copy.write_row(row)
            outcome = cur.execute(stmts.upsert).fetchall()
            cur.execute(stmts.truncate)
        written = [(rid, ins, dele) for rid, ins, dele, _ in outcome]
        inserted = sum(1 for _, ins, dele, _ in outcome if ins and not dele)
        deleted = sum(1 for _, _, dele, refined in outcome if dele and not refined)
        refined = sum(1 for *_, refined in outcome if refined)
        totals.add(UpsertCounts(staged=chunk_staged, inserted=inserted,
                                updated=len(outcome) - inserted - deleted - refined, deleted=deleted))
        if spec.children and written:
            _replace_children(conn, spec, connection_id, _winners(spec, batch), written, rows_of)
    return totals
