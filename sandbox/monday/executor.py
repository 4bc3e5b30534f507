"""One GraphQL request, after the HTTP gate: parse, validate against the version's SDL, price, charge,
execute, and shape the answer as monday does for that version. No HTTP here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from . import complexity, errors, object_fields, query_fields
from .errors import LimitError, MondayError
from .limits import Budget
from .resolution import RequestContext, field_resolver, type_resolver
from .schema import schema_for

log = logging.getLogger(__name__)
_REGISTERED = (object_fields, query_fields)  # importing them registers their resolvers


@dataclass
class Outcome:
    """What to answer: HTTP status, JSON body, and whether the query got as far as execution."""

    status: int
    body: Any
    executed: bool = False
    retry_after: int | None = None


def _search(selection_set: SelectionSetNode, target: object, prefix: list[str]) -> list[str] | None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            path = [*prefix, selection.alias.value if selection.alias else selection.name.value]
            if selection is target:
                return path
            found = _search(selection.selection_set, target, path) if selection.selection_set else None
        elif isinstance(selection, InlineFragmentNode):
            found = _search(selection.selection_set, target, prefix)
        else:
            found = None
        if found:
            return found
    return None


def _field_path(document: DocumentNode, error: GraphQLError) -> list[str]:
    """Where the offending field sits, from the operation type down (graphql-ruby's legacy `path`)."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and error.nodes:
            found = _search(definition.selection_set, error.nodes[0], [definition.operation.value])
            if found:
                return found
    return []


def _request_errors(ctx: RequestContext, found: list[GraphQLError], document: DocumentNode | None,
                    request_id: str) -> Outcome:
    entries = [errors.request_error_entry(e, ctx.version, _field_path(document, e) if document else None)
               for e in found]
    if ctx.version.legacy_errors:
        return Outcome(200, {"errors": entries, "account_id": int(ctx.account.id)})
    return Outcome(200, {"errors": entries, "extensions": {"request_id": request_id}})


def _exhausted(charge_left: int, reset: int, points: int, limit: int | None) -> LimitError:
    budget = limit if limit is not None else 0
    return LimitError("COMPLEXITY_BUDGET_EXHAUSTED", "Complexity budget exhausted", reset or 1,
                      details={"complexity": points, "complexity_budget_left": charge_left,
                               "complexity_budget_limit": budget},
                      legacy_message=f"Complexity budget exhausted, query cost {points} budget remaining "
                                     f"{charge_left} out of {budget} reset in {reset} seconds")


def _price(ctx: RequestContext, budget: Budget, document: DocumentNode, operation: OperationDefinitionNode,
           variables: dict[str, Any], force_exhausted: bool, request_id: str) -> Outcome | None:
    schema = schema_for(ctx.version.schema_key)
    points = complexity.estimate(schema, document, operation, variables)
    cap = budget.limits.max_query_complexity
    if points > cap:
        entry = {"message": f"Query has complexity of {points}, which exceeds max complexity of {cap}",
                 "extensions": {"code": "maxComplexityExceeded", "complexity": points, "maxComplexity": cap}}
        tail = {"account_id": int(ctx.account.id)} if ctx.version.legacy_errors else {
            "extensions": {"request_id": request_id}}
        return Outcome(200, {"errors": [entry], **tail})
    left, reset = budget.complexity_state(ctx.account.id)
    charge = None if force_exhausted else budget.charge(ctx.account.id, points)
    if charge is None:
        raise _exhausted(left if not force_exhausted else 0, reset, points, budget.limits.complexity_per_minute)
    ctx.complexity = charge
    return None


def _shape(ctx: RequestContext, result: ExecutionResult, error_in_200: bool, request_id: str) -> Outcome:
    data = result.data
    failures = list(result.errors or [])
    for failure in failures:
        if not isinstance(failure.original_error, MondayError | None):
            log.error("resolver failed", exc_info=failure.original_error)
    if ctx.version.legacy_errors:
        app_error = next((f.original_error for f in failures if isinstance(f.original_error, MondayError)), None)
        if app_error is not None:
            return Outcome(app_error.status_code, errors.legacy_body(app_error, ctx.account.id), executed=True)
        if failures:
            return Outcome(500, errors.legacy_internal_body(), executed=True)
        if error_in_200:
            return Outcome(200, {"data": _knock_out(data), "errors": [{"message": errors.INTERNAL_MESSAGE}],
                                 "account_id": int(ctx.account.id)}, executed=True)
        return Outcome(200, {"data": data, "account_id": int(ctx.account.id)}, executed=True)
    entries = [errors.execution_error_entry(f) for f in failures]
    if error_in_200:
        data = _knock_out(data)
        entries.append(errors.internal_error_entry())
    body: dict[str, Any] = {"data": data}
    if entries:
        body["errors"] = entries
    body["extensions"] = {"request_id": request_id}
    return Outcome(200, body, executed=True)


def _knock_out(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Partial data for the error_in_200 fault: the first root field comes back null."""
    if not data:
        return data
    first = next(iter(data))
    return {key: (None if key == first else value) for key, value in data.items()}


def run(ctx: RequestContext, budget: Budget, payload: Any, *, request_id: str, force_exhausted: bool = False,
        error_in_200: bool = False) -> Outcome:
    """Answer one POST /v2 body. Raises LimitError when the complexity budget refuses the query."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str) or not payload["query"].strip():
        return Outcome(400, {"errors": [{"message": "Must provide query string."}]})
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        return Outcome(400, {"errors": [{"message": "Variables must be provided as an object."}]})
    schema = schema_for(ctx.version.schema_key)
    try:
        document = parse(payload["query"])
    except GraphQLError as syntax_error:
        return _request_errors(ctx, [syntax_error], None, request_id)
    invalid = validate(schema, document)
    if invalid:
        return _request_errors(ctx, invalid, document, request_id)
    operation_name = payload.get("operationName")
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        message = (f"Unknown operation named '{operation_name}'." if operation_name
                   else "Must provide operation name if query contains multiple operations.")
        return _request_errors(ctx, [GraphQLError(message)], None, request_id)
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return _request_errors(ctx, coerced, None, request_id)
    refused = _price(ctx, budget, document, operation, coerced, force_exhausted, request_id)
    if refused is not None:
        return refused
    result = execute(schema, document, context_value=ctx, variable_values=variables, operation_name=operation_name,
                     field_resolver=field_resolver, type_resolver=type_resolver)
    if not isinstance(result, ExecutionResult):  # resolvers are synchronous; graphql-core returns directly
        raise TypeError("unexpected asynchronous execution result")
    return _shape(ctx, result, error_in_200, request_id)
