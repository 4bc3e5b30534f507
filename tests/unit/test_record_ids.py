"""A plugin's record_id (what a complete read's sweep collects) is the id to_raw gives the same record, for every
QuickBooks entity of a generated company, its deletions, and a record without an id; the default reads to_raw."""

from __future__ import annotations

import pytest

from plugins.quickbooks import PLUGIN
from plugins.quickbooks.streams import STREAMS
from sandbox.quickbooks.datagen import generate_company
from tests.third_source.plugin import STREAM, HelpdeskPlugin

COMPANY = generate_company("9130350000000077", seed=7, records=600, years=1)


@pytest.mark.parametrize("entity", sorted(entity for entity, records in COMPANY.records.items() if records))
def test_quickbooks_record_id_is_the_id_its_row_gets(entity: str) -> None:
    for record in COMPANY.records[entity]:
        assert PLUGIN.record_id(entity, record) == PLUGIN.to_raw(entity, record).id


def test_a_deletion_and_a_record_without_a_version_keep_their_ids_and_one_without_an_id_is_refused() -> None:
    deleted = {"Id": "41", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2026-01-02T03:04:05Z"}}
    assert PLUGIN.record_id("Invoice", deleted) == PLUGIN.to_raw("Invoice", deleted).id == "41"
    # to_raw refuses a record it cannot version; the sweep still saw its id.
    assert PLUGIN.record_id("Invoice", {"Id": 42}) == "42"
    with pytest.raises(ValueError, match="without an Id"):
        PLUGIN.record_id("Invoice", {"Id": "", "MetaData": {"LastUpdatedTime": "2026-01-02T03:04:05Z"}})
    with pytest.raises(ValueError, match="no stream"):
        PLUGIN.record_id("NotAnEntity", {"Id": "1"})


def test_the_entities_compared_include_the_one_with_its_own_id_rule() -> None:
    assert COMPANY.records.get("ExchangeRate") and set(COMPANY.records) <= set(STREAMS)


def test_the_default_record_id_is_to_raws() -> None:
    plugin = HelpdeskPlugin()
    tombstone = {"id": 7, "deleted": True, "updated_at": "2026-01-02T03:04:05Z"}
    assert plugin.record_id(STREAM, tombstone) == plugin.to_raw(STREAM, tombstone).id == "7"
    with pytest.raises(ValueError, match="without an id"):
        plugin.record_id(STREAM, {"updated_at": "2026-01-02T03:04:05Z"})
