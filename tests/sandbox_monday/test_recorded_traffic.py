"""Every recorded query (monday's VCR cassettes) against the simulator, as monday answers it today.

The cassettes were recorded with versions 2024-04 .. 2025-10, all retired now: the simulator, like monday,
answers each with the oldest supported version (2026-07), against whose SDL the documents are validated.

For each cassette with a query in it, the cassette is replayed in order: its mutations are applied
through the in-process API (create/delete board and item, the only ones recorded next to queries; the
recorded `create_board` makes an item "Task 1", and so does the simulator), and every query document is
(1) validated against the SDL of the version that answers it today, with the recorded outcome (valid, or the
validation error monday gave), and (2) sent to the simulator with the recorded ids replaced by the ones the
simulator gave in the same replay. For recordings in today's envelope (2024-10+) the answer must match in HTTP
status, content type, Api-Version header (the answering version), top-level keys, data keys, the key sets and
JSON types of every record (null may stand for any scalar), cursor null-ness, item counts, and the error
entries (message, path, extensions); for older recordings, in their data shapes only.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from graphql import FieldNode, OperationDefinitionNode, parse, validate, value_from_ast_untyped

from sandbox.monday import MondayAccount, MondayState, SimClock, create_app
from sandbox.monday.schema import schema_for
from sandbox.monday.versions import resolve

from .cassettes import Interaction, all_cassettes, version_of
from .conftest import NO_LIMITS, START, TOKEN, Api, Reply

CASSETTES = all_cassettes()
WITH_QUERIES = sorted(name for name, recorded in CASSETTES.items() if any(i.is_query for i in recorded))


def test_the_kit_has_the_expected_recordings() -> None:
    assert len(CASSETTES) == 25
    assert len(WITH_QUERIES) == 13
    assert sum(i.is_query for recorded in CASSETTES.values() for i in recorded) == 21


def _root_call(document: str) -> tuple[str, dict[str, Any]]:
    operation = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    field = next(s for s in operation.selection_set.selections if isinstance(s, FieldNode))
    return field.name.value, {a.name.value: value_from_ast_untyped(a.value) for a in field.arguments}


def _replay_mutation(state: MondayState, interaction: Interaction, ids: dict[str, str]) -> None:
    name, args = _root_call(interaction.document)
    result = (interaction.body.get("data") or {}).get(name)
    if result is None:
        return  # a recorded failure changes nothing
    if name == "create_board":
        ids[result["id"]] = state.create_board(args["board_name"], board_kind=args.get("board_kind", "public")).id
    elif name == "create_item" and str(args["board_id"]) in ids:
        ids[result["id"]] = state.create_item(ids[str(args["board_id"])], args["item_name"]).id
    elif name == "delete_item" and str(args["item_id"]) in ids:
        state.delete_item(ids[str(args["item_id"])])
    elif name == "delete_board" and str(args["board_id"]) in ids:
        state.delete_board(ids[str(args["board_id"])])


def _is_validation_failure(interaction: Interaction) -> bool:
    body = interaction.body
    return interaction.status == 200 and "data" not in body and all(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") in (None, "undefinedField")
        for e in body.get("errors", [{}]))


def _substitute(document: str, ids: dict[str, str]) -> str:
    for recorded in sorted(ids, key=len, reverse=True):
        document = document.replace(recorded, ids[recorded])
    return document


def _learn_ids(recorded: Any, simulated: Any, ids: dict[str, str]) -> None:
    if isinstance(recorded, dict) and isinstance(simulated, dict):
        for key, value in recorded.items():
            mine = simulated.get(key)
            if key in ("id", "cursor") and isinstance(value, str) and isinstance(mine, str):
                ids.setdefault(value, mine)
            else:
                _learn_ids(value, mine, ids)
    elif isinstance(recorded, list) and isinstance(simulated, list):
        for pair in zip(recorded, simulated, strict=False):
            _learn_ids(*pair, ids)


def _same_shape(recorded: Any, simulated: Any, path: str) -> None:
    if isinstance(recorded, dict):
        assert isinstance(simulated, dict), path
        assert set(recorded) == set(simulated), f"{path}: {sorted(recorded)} != {sorted(simulated)}"
        for key in recorded:
            if key == "cursor":
                assert (recorded[key] is None) == (simulated[key] is None), f"{path}.cursor"
            _same_shape(recorded[key], simulated[key], f"{path}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(simulated, list) and bool(recorded) == bool(simulated), path
        if path.endswith(".items"):
            assert len(recorded) == len(simulated), path  # the replay makes pages exactly comparable
        for n, (mine, theirs) in enumerate(zip(recorded, simulated, strict=False)):
            _same_shape(mine, theirs, f"{path}[{n}]")
    elif recorded is not None and simulated is not None:
        assert type(recorded) is type(simulated), f"{path}: {recorded!r} vs {simulated!r}"


def _same_errors(recorded: list[Any], simulated: list[Any]) -> None:
    assert len(recorded) == len(simulated)
    for theirs, mine in zip(recorded, simulated, strict=True):
        if not isinstance(theirs, dict):
            assert mine == theirs
            continue
        assert set(theirs) == set(mine)
        # Application errors point at the field; monday's own column numbers there are not reproducible.
        skip = {"locations"} if "path" in theirs and "extensions" in theirs else set()
        assert {k: v for k, v in mine.items() if k not in skip} == {k: v for k, v in theirs.items() if k not in skip}


def _compare(interaction: Interaction, reply: Reply, served: str) -> None:
    """`served`: the supported version monday answers the cassette's (now retired) version with today."""
    # Before 2024-10 monday answered in another envelope (top-level error_code, account_id, charset=utf-8);
    # those versions are retired and routed to a supported one, so only their data shapes still apply.
    if interaction.api_version is not None and interaction.api_version < "2024-10":
        if "data" in interaction.body:
            _same_shape(interaction.body["data"], reply.body["data"], "data")
        return
    assert reply.status == interaction.status, reply.text
    if interaction.status != 401:  # the 2024 auth layer's charset differs; the 401 body is compared below
        assert reply.headers["Content-Type"] == interaction.headers["Content-Type"]
    assert reply.headers.get("Api-Version") == (served if interaction.api_version else None)
    recorded, simulated = interaction.body, reply.body
    if recorded.get("errors") == ["Not Authenticated"]:  # 2024's 401 body; today's is NOT_AUTHENTICATED
        assert reply.error_codes() == ["NOT_AUTHENTICATED"]
        return
    assert set(recorded) == set(simulated), reply.text
    if "data" in recorded:
        _same_shape(recorded["data"], simulated["data"], "data")
    if "errors" in recorded:
        _same_errors(recorded["errors"], simulated["errors"])
    if "extensions" in recorded:
        assert set(recorded["extensions"]) == set(simulated["extensions"]) == {"request_id"}


@pytest.mark.parametrize("name", WITH_QUERIES)
async def test_recorded_queries_validate_and_get_answers_of_the_recorded_shape(name: str) -> None:
    version = version_of(name, CASSETTES)
    served = resolve(version)
    schema = schema_for(served.schema_key)
    account = MondayAccount.generate(seed=11, workspaces=1, boards=3, items_per_board=5, subitems_per_item=1)
    state = MondayState([account], SimClock(start=START, frozen=True), {TOKEN: account.id}, plan=NO_LIMITS,
                        copy_accounts=False)
    ids: dict[str, str] = {}
    async with TestClient(TestServer(create_app(state))) as client:
        api = Api(client)
        for interaction in CASSETTES[name]:
            if not interaction.is_query:
                _replay_mutation(state, interaction, ids)
                continue
            problems = validate(schema, parse(interaction.document))
            assert bool(problems) == _is_validation_failure(interaction), [p.message for p in problems]
            token = interaction.token if interaction.status == 401 else TOKEN
            reply = await api.post(_substitute(interaction.document, ids), version=version, token=token)
            _compare(interaction, reply, served.value)
            _learn_ids(interaction.body, reply.body, ids)
