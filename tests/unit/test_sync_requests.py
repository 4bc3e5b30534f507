"""POST /api/syncs bodies: what is accepted and the errors that tell the caller what to fix."""

from __future__ import annotations

import pytest

from api.starting import BadSyncRequest, instance_id_for, parse_request


def test_defaults_to_an_incremental_sync_of_everything():
    assert parse_request({}) == ("all", "incremental", {})


def test_one_connection_full():
    assert parse_request({"connection_id": "qbo-demo", "mode": "full"}) == ("qbo-demo", "full", {})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "everything"}, "mode must be one of full, incremental"),
        ({"connection_id": "../etc"}, "Connection id '../etc' is invalid"),
        ({"connection": "x"}, "Unknown fields ['connection']"),
        ({"options": {"max_pages": -1}}, "positive whole numbers"),
        (["mode"], "must be a JSON object"),
    ],
)
def test_bad_requests_say_what_to_fix(body, message):
    with pytest.raises(BadSyncRequest, match=None) as caught:
        parse_request(body)
    assert message in str(caught.value)


def test_instance_ids_are_one_per_scope():
    assert instance_id_for("all") == "sync-all"
    assert instance_id_for("qbo-demo") == "sync-qbo-demo"
