"""Bulk upsert of raw records: binary COPY into a TEMP stage, then a deduplicating, version-guarded upsert.

An older version of a record never overwrites a newer one, and a tombstone keeps the last known
payload and typed values beside its deletion time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Column:
    """A typed column extracted from the source record."""

    name: str
    pg_type: str


@dataclass(frozen=True)
class TableSpec:
    """A raw table: common columns (see COMMON_COLUMNS) plus the stream's typed columns."""

    table: str
    columns: tuple[Column, ...]
    # Compared as a row, newest wins; a version column may be NULL (treated as lowest).
    version: tuple[str, ...] = ("updated_at",)


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
    """One source record ready to load; `typed` follows the TableSpec's column order."""

    id: str
    updated_at: dt.datetime
    payload: dict[str, Any]
    typed: tuple[Any, ...] = ()
    created_at: dt.datetime | None = None
    deleted: bool = False


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
        sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(c)) for c in spec.version
    )
    upsert = sql.SQL(
        """WITH written AS (
             INSERT INTO {target} AS t ({cols})
             SELECT DISTINCT ON (connection_id, id) {cols} FROM {stage}
             ORDER BY connection_id, id, {order_desc}, (deleted_at IS NOT NULL) DESC
             ON CONFLICT (connection_id, id) DO UPDATE SET {assignments}
             WHERE {old_version} < {new_version}
             RETURNING (xmax = 0) AS inserted, (deleted_at IS NOT NULL) AS deleted)
           SELECT count(*) FILTER (WHERE inserted AND NOT deleted),
                  count(*) FILTER (WHERE NOT inserted AND NOT deleted),
                  count(*) FILTER (WHERE deleted)
           FROM written"""
    ).format(
        target=target,
        cols=ident_list,
        stage=stage,
        order_desc=order_desc,
        assignments=sql.SQL(", ").join(assignments),
        old_version=version_row("t"),
        new_version=version_row("excluded"),
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


def _rows(spec: TableSpec, connection_id: str, run_id: str, records: Iterable[RawRecord]) -> Iterator[tuple]:
    width = len(spec.columns)
    for rec in records:
        if len(rec.typed) != width:
            raise ValueError(
                f"{spec.table}: record {rec.id} has {len(rec.typed)} typed values, the table expects {width}"
            )
        if rec.updated_at.tzinfo is None:
            raise ValueError(f"{spec.table}: record {rec.id} has a naive updated_at; a time zone is required")
        deleted_at = rec.updated_at if rec.deleted else None
        yield (
            connection_id, rec.id, rec.created_at, rec.updated_at, deleted_at,
            *rec.typed,
            Jsonb(rec.payload), run_id,
        )


def upsert_records(
    conn: psycopg.Connection,
    spec: TableSpec,
    connection_id: str,
    run_id: str,
    records: Iterable[RawRecord],
    *,
    batch_rows: int = 5000,
) -> UpsertCounts:
    """Load records into spec.table inside the caller's transaction; returns what changed."""
    stmts = _statements(spec)
    totals = UpsertCounts()
    conn.execute(stmts.create_stage)
    rows = _rows(spec, connection_id, run_id, records)
    while batch := list(islice(rows, batch_rows)):
        with conn.cursor() as cur:
            with cur.copy(stmts.copy) as copy:
                copy.set_types(stmts.types)
                for row in batch:
                    copy.write_row(row)
            inserted, updated, deleted = cur.execute(stmts.upsert).fetchone()
            cur.execute(stmts.truncate)
        totals.add(UpsertCounts(staged=len(batch), inserted=inserted, updated=updated, deleted=deleted))
    return totals
