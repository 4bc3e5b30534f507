"""What the boards stream loaded, read back for planning the item streams: boards, their states, their
subitems boards and main status columns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shared.db.connect import connect


@dataclass
class BoardInfo:
    board_id: str
    state: str | None
    board_type: str | None
    updated_at: str | None
    deleted: bool
    subitems_board_id: str | None
    status_columns: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (column id, settings)


def load_boards(connection_id: str) -> dict[str, BoardInfo]:
    """Every board row of the connection with its status columns in board order."""
    with connect() as conn:
        boards = {
            row[0]: BoardInfo(row[0], row[1], row[2], row[3], row[4], row[5])
            for row in conn.execute(
                """SELECT id, state, board_type,
                          to_char(board_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                          deleted_at IS NOT NULL, subitems_board_id
                   FROM monday_board WHERE connection_id = %s""", (connection_id,))
        }
        for board_id, column_id, settings in conn.execute(
                """SELECT board_id, column_id, settings FROM monday_column
                   WHERE connection_id = %s AND type = 'status' AND deleted_at IS NULL
                   ORDER BY board_id, position""", (connection_id,)):
            if board_id in boards:
                boards[board_id].status_columns.append((column_id, settings or {}))
    return boards


def live_items(connection_id: str, board_id: str) -> list[tuple[str, dt.datetime]]:
    """(id, updated_at) of the items loaded for a board and not tombstoned."""
    with connect() as conn:
        return conn.execute(
            "SELECT id, updated_at FROM monday_item WHERE connection_id = %s AND board_id = %s AND deleted_at IS NULL",
            (connection_id, board_id)).fetchall()


def status_context(board: BoardInfo | None, chosen: str | None, done_labels: tuple[str, ...]) -> dict[str, Any] | None:
    """The board's main status column and the label indexes that mean done (its done colours and "Done")."""
    if board is None or not board.status_columns:
        return None
    columns = dict(board.status_columns)
    column_id = next((c for c in (chosen, "status") if c in columns), board.status_columns[0][0])
    settings = columns[column_id] if isinstance(columns[column_id], dict) else {}
    done = {int(i) for i in settings.get("done_colors") or [] if str(i).lstrip("-").isdigit()}
    labels = settings.get("labels") if isinstance(settings.get("labels"), dict) else {}
    wanted = {d.lower() for d in done_labels}
    done |= {int(i) for i, label in labels.items() if str(i).isdigit() and str(label).lower() in wanted}
    return {"column": column_id, "done": sorted(done), "labels": list(done_labels)}
