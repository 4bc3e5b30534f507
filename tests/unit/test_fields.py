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


# The compiled reader (every path lookup written out in one function) must give exactly what the readers give one
# by one, for every shape a JSON record can take: this is what every loaded row goes through.
SHAPES = [
    {"A": "x", "B": {"value": "7", "name": "n"}, "C": {"D": {"E": 3}}},
    {"A": None, "B": None, "C": None},
    {"A": 5, "B": "not an object", "C": {"D": "not an object"}},
    {"A": {"nested": 1}, "B": {"value": None}, "C": {"D": {"E": [1, 2]}}},
    {},
    {"B": {"value": 12345678901234567890}},
]
MIXED = Fields(
    Field("a", "text", path("A", convert=as_text)),
    Field("b", "text", path("B", "value", convert=as_text)),
    Field("e", "text", path("C", "D", "E")),
    Field("e_text", "text", path("C", "D", "E", convert=as_text)),
    Field("raw_b", "text", path("B")),
    Field("whole", "integer", lambda record: len(record)),
)


def _outcome(read, record):
    try:
        value = read(record)
    except ValueError as exc:
        return "raises", str(exc)
    return value, [type(v) for v in value] if isinstance(value, tuple) else type(value)


@pytest.mark.parametrize("record", SHAPES)
def test_the_compiled_reader_gives_what_each_reader_gives(record):
    def one_by_one(row):
        return tuple(f.extract(row) for f in MIXED)

    assert _outcome(MIXED.read, record) == _outcome(one_by_one, record)


def test_a_row_that_is_not_an_object_is_read_by_each_reader():
    assert PEOPLE.read(["a", "list"]) == (None, None, None)
    assert Fields(Field("n", "integer", lambda row: len(row))).read("abc") == (3,)


def test_the_compiled_reader_still_names_the_column_that_fails():
    single = Fields(Field("age", "integer", path("age", convert=as_int)))
    assert single.read({"age": "7"}) == (7,)
    with pytest.raises(ValueError, match="field age: invalid literal"):
        single.read({"age": "seven"})
