"""A board as planning the item streams sees it (read back from what the boards stream loaded, by
storage.py): its state, subitems board and main status columns, and which status labels mean done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BoardInfo:
    board_id: str
    state: str | None
    board_type: str | None
    updated_at: str | None
    deleted: bool
    subitems_board_id: str | None
    status_columns: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (column id, settings)


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
