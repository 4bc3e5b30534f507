"""One way to declare a typed column (shared.db.fields): name, type and reader together, values named by it."""

from __future__ import annotations

import pytest

from shared.core.convert import as_int, as_text
from shared.db.fields import Field, Fields, converted, path
from shared.db.loader import Column, TableSpec

PEOPLE = Fields(
    Field("name", "text", converted(path("name"), as_text)),
    Field("team_id", "text", converted(path("team", "id"), as_text)),
    Field("age", "integer", converted(path("age"), as_int)),
)


def test_a_record_is_read_into_values_in_the_declared_order_which_the_names_describe():
    assert PEOPLE.read({"name": "Ana", "team": {"id": 3}, "age": "41"}) == ("Ana", "3", 41)
    assert PEOPLE.names == ("name", "team_id", "age")
    assert PEOPLE.columns == (Column("name", "text"), Column("team_id", "text"), Column("age", "integer"))
    assert PEOPLE.nulls() == (None, None, None) and len(PEOPLE) == 3
    assert [f.column for f in PEOPLE] == list(PEOPLE.names)


def test_a_missing_step_of_a_path_is_null_not_an_error():
    assert PEOPLE.read({"team": "not an object"}) == (None, None, None)


def test_a_value_that_cannot_be_read_names_its_column():
    with pytest.raises(ValueError, match="field age: invalid literal"):
        PEOPLE.read({"age": "forty"})


def test_a_column_declared_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice: name"):
        Fields(Field("name", "text", as_text), Field("name", "text", as_text))


def test_a_table_whose_columns_repeat_or_shadow_the_common_ones_is_refused():
    with pytest.raises(ValueError, match=r"named twice .*: updated_at$"):
        TableSpec("t", (Column("updated_at", "timestamptz"),))
    with pytest.raises(ValueError, match=r"named twice .*: a$"):
        TableSpec("t", (Column("a", "text"), Column("a", "text")))
