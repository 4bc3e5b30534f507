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
    GraphQLError,
    OperationDefinitionNode,
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


def _request_errors(found: list[GraphQLError], request_id: str) -> Outcome:
    entries = [errors.request_error_entry(e) for e in found]
    return Outcome(200, {"errors": entries, "extensions": {"request_id": request_id}})


def _exhausted(reset: int) -> LimitError:
    return LimitError("COMPLEXITY_BUDGET_EXHAUSTED", "Complexity budget exhausted", reset or 1)


def _price(ctx: RequestContext, budget: Budget, document: DocumentNode, operation: OperationDefinitionNode,
           variables: dict[str, Any], force_exhausted: bool, request_id: str) -> Outcome | None:
    schema = schema_for(ctx.version.schema_key)
    points = complexity.estimate(schema, document, operation, variables)
    cap = budget.limits.max_query_complexity
    if points > cap:
        entry = {"message": f"Query has complexity of {points}, which exceeds max complexity of {cap}",
                 "extensions": {"code": "maxComplexityExceeded", "complexity": points, "maxComplexity": cap}}
        return Outcome(200, {"errors": [entry], "extensions": {"request_id": request_id}})
    _, reset = budget.complexity_state(ctx.account.id)
    charge = None if force_exhausted else budget.charge(ctx.account.id, points)
    if charge is None:
        raise _exhausted(reset)
    ctx.complexity = charge
    return None


def _shape(ctx: RequestContext, result: ExecutionResult, error_in_200: bool, request_id: str) -> Outcome:
    data = result.data
    failures = list(result.errors or [])
    for failure in failures:
        if not isinstance(failure.original_error, MondayError | None):
            log.error("resolver failed", exc_info=failure.original_error)
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
        return _request_errors([syntax_error], request_id)
    invalid = validate(schema, document)
    if invalid:
        return _request_errors(invalid, request_id)
    operation_name = payload.get("operationName")
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        message = (f"Unknown operation named '{operation_name}'." if operation_name
                   else "Must provide operation name if query contains multiple operations.")
        return _request_errors([GraphQLError(message)], request_id)
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return _request_errors(coerced, request_id)
    refused = _price(ctx, budget, document, operation, coerced, force_exhausted, request_id)
    if refused is not None:
        return refused
    result = execute(schema, document, context_value=ctx, variable_values=variables, operation_name=operation_name,
                     field_resolver=field_resolver, type_resolver=type_resolver)
    if not isinstance(result, ExecutionResult):  # resolvers are synchronous; graphql-core returns directly
        raise TypeError("unexpected asynchronous execution result")
    return _shape(ctx, result, error_in_200, request_id)
