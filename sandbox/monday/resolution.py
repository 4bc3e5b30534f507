"""How the simulator resolves any valid selection: specific resolvers where monday computes something,
plain attribute / key lookup elsewhere, and a typed placeholder for fields it has no data for.

The placeholder keeps every query that validates against the SDL executable: a non-null field the
simulator does not model answers "", 0, false, [], the first enum value or an empty object; a nullable
one answers null. Specific resolvers register themselves with `@resolves("Type", "name")`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_abstract_type,
    is_enum_type,
    is_list_type,
    is_non_null_type,
    is_scalar_type,
)

from . import errors
from .clock import iso_z
from .faults import FaultInjector
from .limits import ComplexityCharge
from .model import MondayAccount
from .paging import CursorStore
from .versions import ApiVersion

Resolver = Callable[..., Any]
RESOLVERS: dict[tuple[str, str], Resolver] = {}
_MISSING = object()
_SCALAR_PLACEHOLDERS: dict[str, Any] = {"String": "", "ID": "0", "Int": 0, "Float": 0.0, "Boolean": False}


@dataclass
class RequestContext:
    """What resolvers of one request see (graphql-core's `context_value`)."""

    account: MondayAccount
    version: ApiVersion
    cursors: CursorStore
    faults: FaultInjector
    complexity: ComplexityCharge | None = None
    denied_boards: set[str] = field(default_factory=set)

    def guard_board(self, board_id: str) -> None:
        """Raise USER_UNAUTHORIZED when an "unauthorized_board" fault covers this board in this request."""
        if board_id in self.denied_boards or "*" in self.denied_boards:
            raise errors.unauthorized()
        fault = self.faults.take("unauthorized_board", board_id)
        if fault is not None:
            self.denied_boards.add(fault.board_id or "*")
            raise errors.unauthorized()

    def guard_root_field(self, name: str) -> None:
        """Raise USER_UNAUTHORIZED when an "unauthorized_field" fault names this root field."""
        if self.faults.take("unauthorized_field", field=name) is not None:
            raise errors.unauthorized()

    def guard_cursor(self) -> None:
        if self.faults.take("cursor_expired") is not None:
            self.cursors.expire_all()


def resolves(type_name: str, *names: str) -> Callable[[Resolver], Resolver]:
    def register(resolver: Resolver) -> Resolver:
        for name in names:
            RESOLVERS[(type_name, name)] = resolver
        return resolver
    return register


def context(info: GraphQLResolveInfo) -> RequestContext:
    return info.context  # type: ignore[no-any-return]


def page_of(values: list[Any], limit: int | None, page: int | None, default_limit: int | None = 25) -> list[Any]:
    size = limit if limit is not None else default_limit
    if size is None:
        return values
    number = max(1, page or 1)
    return values[(number - 1) * size: number * size]


def placeholder(info: GraphQLResolveInfo, output: GraphQLOutputType) -> Any:
    if not is_non_null_type(output):
        return None
    inner = output.of_type  # type: ignore[union-attr]
    if is_list_type(inner):
        return []
    if is_enum_type(inner):
        return next(iter(inner.values))  # type: ignore[union-attr]
    if is_scalar_type(inner):
        return _SCALAR_PLACEHOLDERS.get(inner.name, "")  # type: ignore[union-attr]
    if is_abstract_type(inner):
        return {"__typename": info.schema.get_possible_types(inner)[0].name}  # type: ignore[arg-type]
    return {}


def plain(value: Any) -> Any:
    return iso_z(value) if isinstance(value, datetime) else value


def field_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    if info.parent_type is info.schema.query_type:
        context(info).guard_root_field(info.field_name)
    specific = RESOLVERS.get((info.parent_type.name, info.field_name))
    if specific is not None:
        return specific(source, info, **args)
    if info.parent_type in (info.schema.query_type, info.schema.mutation_type):
        raise errors.unsupported(info.field_name)
    if isinstance(source, dict):
        value = source.get(info.field_name, _MISSING)
    else:
        value = getattr(source, info.field_name, _MISSING)
    if value is _MISSING or callable(value):
        return placeholder(info, info.return_type)
    return plain(value)


def type_resolver(value: Any, info: GraphQLResolveInfo, abstract_type: GraphQLAbstractType) -> str:
    name = value.get("__typename") if isinstance(value, dict) else getattr(value, "typename", None)
    possible = info.schema.get_possible_types(abstract_type)
    if name and any(t.name == name for t in possible):
        return str(name)
    # A type this version lacks (or an unknown one): monday answers such values as UnsupportedValue.
    fallback = next((t for t in possible if t.name == "UnsupportedValue"), possible[0])
    return fallback.name
