"""POST /api/syncs bodies: what the model accepts and refuses (the route's 422s are tested end to end in
tests/integration/test_api_syncs.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.routes.syncs import SyncStartRequest
from api.starting import instance_id_for


def test_defaults_to_an_incremental_sync_of_everything():
    request = SyncStartRequest.model_validate({})
    assert (request.connection_id, request.mode, request.options.to_options()) == (None, "incremental", {})


def test_one_connection_full_with_allow_listed_options():
    request = SyncStartRequest.model_validate({"connection_id": "qbo-demo", "mode": "full",
                                               "options": {"max_pages": 3, "iterations_per_execution": 2}})
    assert request.connection_id == "qbo-demo"
    assert request.options.to_options() == {"max_pages": 3, "iterations_per_execution": 2}


@pytest.mark.parametrize(("body", "where"), [
    ({"mode": "everything"}, "mode"),
    ({"connection_id": "../etc"}, "connection_id"),
    ({"connection_id": "qbo-demo\n"}, "connection_id"),
    ({"connection_id": ""}, "connection_id"),
    ({"connection": "x"}, "connection"),
    ({"options": {"max_pages": -1}}, "max_pages"),
    ({"options": {"max_pages": "5"}}, "max_pages"),
    ({"options": {"max_pages": 1.0}}, "max_pages"),
    ({"options": {"max_pages": 100_001}}, "max_pages"),
    ({"options": {"anything": 1}}, "anything"),
])
def test_bad_requests_name_the_field_to_fix(body, where):
    with pytest.raises(ValidationError) as caught:
        SyncStartRequest.model_validate(body)
    assert any(where in map(str, error["loc"]) for error in caught.value.errors())


def test_instance_ids_are_one_per_scope():
    assert instance_id_for("all") == "sync-all"
    assert instance_id_for("qbo-demo") == "sync-qbo-demo"
