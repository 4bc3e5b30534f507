"""monday's error shapes, as the versions it serves today (2024-10 and later envelopes) send them.

Recorded (monday's VCR cassettes, see the test fixtures): the `errors[]` entry with `extensions {code,
status_code, error_data, service}` and partial `data`; the internal error entry with `extensions.error_code`
(sic); 401 as `NOT_AUTHENTICATED`; validation errors in graphql-js wording. From monday's changelog: limit
errors carry only `{code, retry_in_seconds}` from 2025-07. Reconstructed (no recording): RATE_LIMIT_EXCEEDED,
DAILY_LIMIT_EXCEEDED, maxConcurrencyExceeded, CursorException and the argument errors; they follow the
envelopes above. The pre-2024-10 top-level `error_code` bodies are no longer served: their versions are retired
and monday routes them to a supported version.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError

INTERNAL_MESSAGE = "Internal server error"
_QUOTED = re.compile(r"(?<![A-Za-z])'([^'\s][^']*?)'(?![A-Za-z])")


class MondayError(Exception):
    """An application error, raised by resolvers and the request pipeline, rendered per version era."""

    def __init__(self, message: str, code: str, *, status_code: int = 200,
                 error_data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.error_data = error_data if error_data is not None else {}


class LimitError(Exception):
    """A budget or rate limit refusal: HTTP 429 with Retry-After, in the version's limit-error shape."""

    def __init__(self, code: str, message: str, retry_in_seconds: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_in_seconds = max(1, int(retry_in_seconds))


# -- constructors for the errors the simulator raises --------------------------------------------------
def invalid_board(board_id: Any) -> MondayError:
    return MondayError("The board does not exist. Please check your board ID and try again", "InvalidBoardIdException",
                       error_data={"board_id": _as_int(board_id)})


def invalid_column(column_id: str, board_id: Any) -> MondayError:
    return MondayError("This column ID doesn't exist for the board", "InvalidColumnIdException",
                       error_data={"column_id": column_id, "board_id": _as_int(board_id)})


def unauthorized() -> MondayError:
    return MondayError("User unauthorized to perform action", "USER_UNAUTHORIZED", status_code=403)


def cursor_expired() -> MondayError:
    return MondayError("CursorExpiredError: The cursor provided for pagination has expired. Please refresh your query "
                       "and obtain a new cursor to continue fetching items", "CursorException")


def cursor_invalid() -> MondayError:
    return MondayError("CursorException: The cursor provided for pagination is invalid", "CursorException")


def invalid_argument(message: str, **error_data: Any) -> MondayError:
    return MondayError(message, "InvalidArgumentException", error_data=error_data)


def unsupported(field: str) -> MondayError:
    # Not a monday error: the simulator says plainly what it does not implement, in monday's envelope.
    return MondayError(f"The monday simulator does not support the field '{field}'; it answers queries of boards, "
                       "items, users, teams, tags, workspaces, updates, complexity, version(s), me and account",
                       "UNSUPPORTED_BY_SIMULATOR", status_code=501)


def _as_int(value: Any) -> Any:
    text = str(value)
    return int(text) if text.isdigit() else value


# -- rendering ---------------------------------------------------------------------------------------------
def graphql_js_message(message: str) -> str:
    """graphql-core 3.2 quotes names with ' where graphql-js (what monday runs since 2024-10) uses "."""
    return _QUOTED.sub(r'"\1"', message)


def _locations(error: GraphQLError) -> list[dict[str, int]] | None:
    if not error.locations:
        return None
    return [{"line": loc.line, "column": loc.column} for loc in error.locations]


def request_error_entry(error: GraphQLError) -> dict[str, Any]:
    """A syntax or validation error (the document never ran), e.g. a field the version does not have."""
    locations = _locations(error)
    return {"message": graphql_js_message(error.message), **({"locations": locations} if locations else {})}


def execution_error_entry(error: GraphQLError) -> dict[str, Any]:
    """An error raised while resolving a field (2024-10+ envelope)."""
    original = error.original_error
    entry: dict[str, Any] = {"message": error.message}
    locations = _locations(error)
    if locations:
        entry["locations"] = locations
    entry["path"] = list(error.path) if error.path else []
    if isinstance(original, MondayError):
        entry["message"] = original.message
        entry["extensions"] = {"code": original.code, "status_code": original.status_code,
                               "error_data": original.error_data, "service": "monolith"}
    else:
        entry = internal_error_entry()
    return entry


def internal_error_entry() -> dict[str, Any]:
    # Recorded (2025-07): note `error_code`, not `code`, and an empty path.
    return {"message": INTERNAL_MESSAGE, "path": [],
            "extensions": {"status_code": 500, "error_code": "INTERNAL_SERVER_ERROR", "service": "monolith"}}


def limit_body(error: LimitError) -> dict[str, Any]:
    return {"errors": [{"message": error.message,
                        "extensions": {"code": error.code, "retry_in_seconds": error.retry_in_seconds}}]}


def not_authenticated_body() -> dict[str, Any]:
    return {"errors": [{"message": "Not authenticated", "extensions": {"code": "NOT_AUTHENTICATED"}}]}
