"""A run's status from its connections' results: a skipped connection is never reported as synced."""

from activities.runs import run_outcome
from shared.core.messages import ConnectionResult

OK = ConnectionResult.from_json({"connection_id": "a", "status": "succeeded"})
FAILED = ConnectionResult.from_json({"connection_id": "b", "status": "failed", "error": "boom"})
SKIPPED = ConnectionResult.from_json(
    {"connection_id": "c", "status": "skipped", "error": "not synced: c is held by another sync: run run-1"})


def test_every_connection_synced_is_a_success():
    assert run_outcome([OK]) == ("succeeded", [])


def test_a_run_whose_every_connection_was_held_elsewhere_is_skipped_and_names_the_holder():
    status, errors = run_outcome([SKIPPED])
    assert status == "skipped"
    assert errors == [{"connection_id": "c", "status": "skipped", "error": SKIPPED.error}]


def test_a_skipped_connection_makes_a_run_partial():
    status, errors = run_outcome([OK, SKIPPED])
    assert status == "partial" and [e["connection_id"] for e in errors] == ["c"]


def test_failed_and_skipped_with_nothing_synced_is_a_failure():
    status, errors = run_outcome([FAILED, SKIPPED])
    assert status == "failed" and [e["status"] for e in errors] == ["failed", "skipped"]


def test_a_run_that_could_not_start_is_a_failure():
    assert run_outcome([], "database down") == (
        "failed", [{"connection_id": None, "status": "failed", "error": "database down"}])
