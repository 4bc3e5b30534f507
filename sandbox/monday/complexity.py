"""An estimate of a query's complexity points, computed before it runs (monday's own formula is not public).

    cost(leaf field)      = 1
    cost(composite field) = 1 + fan_out(field) * sum(cost(child) for child in its selection)
    complexity(query)     = sum(cost(root field))

fan_out is how many objects the field can return: len(ids) when ids are given; for `items` under an
`ItemsResponse` the enclosing `items_page` / `next_items_page` / `items_page_by_column_values` limit
(default 25); the `limit` argument of other lists (25 when the field takes a limit but none is given);
10 for lists without a limit (columns, groups, column_values, subitems, owners...); 1 for single objects.
Fragments are added up, typed fragments on an interface included. So the estimate grows linearly with
every limit and multiplies down nested selections: `boards(ids: [1]) { items_page(limit: 500) { items
{ id column_values { id text } } } }` costs 1 + 1 * (1 + (1 + 500 * (1 + (1 + 10 * 2)))) = 11,003
(with limit: 25, 553). monday's own numbers differ; only the way they grow is meant to be alike.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import get_argument_values

UNBOUNDED_LIST_FAN_OUT = 10
DEFAULT_PAGE = 25
_PAGED_RESPONSES = frozenset({"ItemsResponse"})


def _fan_out(parent: GraphQLNamedType, field: GraphQLField, args: dict[str, Any], page: int | None) -> int:
    if not is_list_type(get_nullable_type(field.type)):
        return 1
    ids = args.get("ids")
    limit = args.get("limit")
    if parent.name in _PAGED_RESPONSES:
        return page or DEFAULT_PAGE
    if isinstance(ids, list):
        return min(len(ids), limit) if isinstance(limit, int) else len(ids)
    if isinstance(limit, int):
        return limit
    return DEFAULT_PAGE if "limit" in field.args else UNBOUNDED_LIST_FAN_OUT


def _cost(schema: GraphQLSchema, parent: GraphQLNamedType, selection_set: SelectionSetNode,
          fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], page: int | None) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields = getattr(parent, "fields", {})
            field = fields.get(selection.name.value)
            if field is None or selection.selection_set is None:
                total += 1  # leaves, and __typename
                continue
            args = get_argument_values(field, selection, variables)
            named = get_named_type(field.type)
            child_page = args.get("limit") if named.name in _PAGED_RESPONSES else page
            total += 1 + _fan_out(parent, field, args, page) * _cost(
                schema, named, selection.selection_set, fragments, variables,
                child_page if isinstance(child_page, int) else None)
        elif isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
            total += _cost(schema, target or parent, selection.selection_set, fragments, variables, page)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                target = schema.get_type(fragment.type_condition.name.value) or parent
                total += _cost(schema, target, fragment.selection_set, fragments, variables, page)
    return total


def estimate(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
             variables: dict[str, Any]) -> int:
    """Complexity points of `operation` (already validated, variables already coerced)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _cost(schema, root, operation.selection_set, fragments, variables, None)
