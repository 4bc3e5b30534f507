"""QBO's query language: a parser for the supported subset and an evaluator over stored records.

Grammar (keywords case-insensitive, entity and property names as QBO spells them):
    SELECT * | COUNT(*) FROM Entity [WHERE cond [AND cond]...]
        [ORDERBY prop [ASC|DESC] [, prop [ASC|DESC]]...] [STARTPOSITION n] [MAXRESULTS n]
    cond := prop (= | < | <= | > | >=) value | prop IN (value, ...) | prop LIKE 'pattern%'
Anything else (OR, joins, projections, GROUP BY, !=) is a QueryParserError, as QBO answers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from .clock import parse_instant
from .entities import EntityKind, record_key

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000
_COMPARISONS = ("=", "<", "<=", ">", ">=")
_KEYWORDS = frozenset({"select", "from", "where", "and", "or", "in", "like", "orderby", "asc", "desc",
                       "startposition", "maxresults", "count", "true", "false", "null", "not", "join",
                       "group", "order", "by", "inner", "left", "on", "having"})


class QueryError(Exception):
    """A query QBO would refuse: `parser` errors are fault 4000, `validation` errors fault 4001."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of = < <= > >= IN LIKE
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    count: bool
    entity: str
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    start_position: int | None = None
    max_results: int | None = None


# -- tokens -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str  # ident, string, number, punct, eof, bad
    text: str
    column: int
    value: Any = None

    def is_kw(self, word: str) -> bool:
        return self.kind == "ident" and self.text.lower() == word


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct><=|>=|!=|<>|[*(),=<>])
""", re.VERBOSE)


def _unescape(body: str) -> str:
    # QBO escapes a quote inside a literal with a backslash: 'Amy\'s Bird Sanctuary'.
    return re.sub(r"\\(.)", r"\1", body)


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            tokens.append(_Token("bad", text[pos], pos + 1))
            break
        kind = match.lastgroup or "bad"
        raw = match.group()
        if kind == "string":
            tokens.append(_Token(kind, raw, pos + 1, _unescape(raw[1:-1])))
        elif kind == "number":
            tokens.append(_Token(kind, raw, pos + 1, float(raw) if "." in raw else int(raw)))
        elif kind != "ws":
            tokens.append(_Token(kind, raw, pos + 1))
        pos = match.end()
    tokens.append(_Token("eof", "", len(text) + 1))
    return tokens


# -- parser -----------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def next(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, expected: list[str]) -> NoReturn:
        # Mimics the JavaCC message QBO returns, e.g.
        # QueryParserError: Encountered " "or" "OR "" at line 1, column 40.
        token = self.tok
        if token.kind == "eof":
            seen = '"<EOF>"'
        elif token.kind == "ident" and token.text.lower() in _KEYWORDS:
            seen = f'" "{token.text.lower()}" "{token.text} ""'
        elif token.kind == "ident":
            seen = f'" <IDENTIFIER> "{token.text} ""'
        elif token.kind == "string":
            seen = f'" <STRING> "{token.text} ""'
        elif token.kind == "number":
            seen = f'" <INTEGER> "{token.text} ""'
        else:
            seen = f'" "{token.text}" "{token.text} ""'
        lines = "".join(f"    {item} ...\n" for item in expected)
        plural = " one of" if len(expected) > 1 else ""
        raise QueryError("parser", f"QueryParserError: Encountered {seen} at line 1, column {token.column}.\n"
                                   f"Was expecting{plural}:\n{lines}    ")

    def keyword(self, word: str) -> None:
        if not self.tok.is_kw(word):
            self.fail([f'"{word}"'])
        self.pos += 1

    def punct(self, symbol: str) -> None:
        if not (self.tok.kind == "punct" and self.tok.text == symbol):
            self.fail([f'"{symbol}"'])
        self.pos += 1

    def identifier(self) -> str:
        if self.tok.kind != "ident" or self.tok.text.lower() in _KEYWORDS:
            self.fail(["<IDENTIFIER>"])
        return self.next().text

    def integer(self) -> int:
        if self.tok.kind != "number" or not isinstance(self.tok.value, int):
            self.fail(["<INTEGER>"])
        return int(self.next().value)

    def value(self) -> Any:
        token = self.tok
        if token.kind in ("string", "number"):
            self.pos += 1
            return token.value
        if token.is_kw("true") or token.is_kw("false"):
            self.pos += 1
            return token.text.lower() == "true"
        self.fail(["<STRING>", "<INTEGER>", '"true"', '"false"'])

    def parse(self) -> Query:
        self.keyword("select")
        if self.tok.kind == "punct" and self.tok.text == "*":
            self.pos += 1
            count = False
        elif self.tok.is_kw("count"):
            self.pos += 1
            self.punct("(")
            self.punct("*")
            self.punct(")")
            count = True
        else:
            # A projection (SELECT Id, Name ...): QBO only knows * and count(*).
            self.fail(['"*"', '"count"'])
        self.keyword("from")
        entity = self.identifier()
        conditions: list[Condition] = []
        order: list[tuple[str, bool]] = []
        paging: dict[str, int] = {}
        if self.tok.is_kw("where"):
            self.pos += 1
            conditions.append(self.condition())
            while self.tok.is_kw("and"):
                self.pos += 1
                conditions.append(self.condition())
        if self.tok.is_kw("orderby"):
            self.pos += 1
            order.append(self.order_item())
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.pos += 1
                order.append(self.order_item())
        while self.tok.is_kw("startposition") or self.tok.is_kw("maxresults"):
            word = self.next().text.lower()
            if word in paging:
                self.pos -= 1
                self.fail(["<EOF>"])
            paging[word] = self.integer()
        if self.tok.kind != "eof":
            expected = ["<EOF>"]
            if not order and not paging:
                expected += ['"and"' if conditions else '"where"', '"orderby"']
            self.fail([*expected, '"startposition"', '"maxresults"'])
        return Query(count=count, entity=entity, conditions=tuple(conditions), order_by=tuple(order),
                     start_position=paging.get("startposition"), max_results=paging.get("maxresults"))

    def condition(self) -> Condition:
        field = self.identifier()
        token = self.tok
        if token.is_kw("in"):
            self.pos += 1
            self.punct("(")
            values = [self.value()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.pos += 1
                values.append(self.value())
            self.punct(")")
            return Condition(field, "IN", tuple(values))
        if token.is_kw("like"):
            self.pos += 1
            if self.tok.kind != "string":
                self.fail(["<STRING>"])
            return Condition(field, "LIKE", (self.next().value,))
        if token.kind == "punct" and token.text in _COMPARISONS:
            self.pos += 1
            return Condition(field, token.text, (self.value(),))
        self.fail(['"="', '"<"', '"<="', '">"', '">="', '"in"', '"like"'])

    def order_item(self) -> tuple[str, bool]:
        field = self.identifier()
        if self.tok.is_kw("desc"):
            self.pos += 1
            return field, True
        if self.tok.is_kw("asc"):
            self.pos += 1
        return field, False


def parse(text: str) -> Query:
    """Parse a QBO select statement; raises QueryError("parser", ...) on syntax QBO would reject."""
    return _Parser(text).parse()


# -- evaluation -------------------------------------------------------------------------------------
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MISSING = object()


# The spelling a property name last matched (Metadata -> MetaData), tried first: a query over a large company
# looks up the same names in every row.
_SPELLING: dict[str, str] = {}


@lru_cache(maxsize=500_000)
def instant(text: str, tz_name: str) -> Any:
    # Every query of a large company compares the same stored times again.
    return parse_instant(text, tz_name)


def lookup(record: dict[str, Any], path: str) -> Any:
    """Follow a dotted property path; names match without regard to case (Metadata vs MetaData)."""
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, dict):
            return MISSING
        key = _SPELLING.get(part, part)
        if key not in current:
            key = next((k for k in current if k.lower() == part.lower()), None)
            if key is None:
                return MISSING
            _SPELLING[part] = key
        current = current[key]
    if isinstance(current, dict) and "value" in current:
        current = current["value"]  # filtering on CustomerRef compares its value (the Id)
    return current


def _is_id_path(path: str) -> bool:
    last = path.rsplit(".", 1)[-1].lower()
    return last == "id" or last.endswith("ref")


def typed(path: str, value: Any, tz_name: str) -> tuple[int, Any]:
    """A sortable, comparable form: (rank, value) so that types never meet in a comparison."""
    if value is MISSING or value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (2, float(value))
    text = str(value)
    if _is_id_path(path) and text.isdigit():
        return (2, float(int(text)))
    if _DATETIME_RE.match(text):
        try:
            return (3, instant(text, tz_name).timestamp())
        except ValueError:
            return (4, text)
    return (4, text)


def _matches(condition: Condition, record: dict[str, Any], tz_name: str) -> bool:
    stored = lookup(record, condition.field)
    if stored is MISSING and condition.field.lower() == "active":
        # The pseudo tax codes TAX and NON are written without the flag, but they are always active.
        stored = True
    if stored is MISSING or stored is None:
        return False
    if condition.op == "LIKE":
        pattern = "^" + ".*".join(re.escape(p) for p in str(condition.values[0]).split("%")) + "$"
        return isinstance(stored, str) and re.match(pattern, stored, re.IGNORECASE | re.DOTALL) is not None
    if condition.op == "IN":
        return any(_compare(stored, v, condition.field, tz_name) == 0 for v in condition.values)
    result = _compare(stored, condition.values[0], condition.field, tz_name)
    if result is None:
        return False
    return {"=": result == 0, "<": result < 0, "<=": result <= 0, ">": result > 0, ">=": result >= 0}[condition.op]


def _compare(stored: Any, literal: Any, path: str, tz_name: str) -> int | None:
    if isinstance(stored, bool):
        if isinstance(literal, str) and literal.lower() in ("true", "false"):
            literal = literal.lower() == "true"
        return None if not isinstance(literal, bool) else (stored > literal) - (stored < literal)
    if isinstance(stored, int | float):
        try:
            number = float(literal)
        except (TypeError, ValueError):
            return None
        return (stored > number) - (stored < number)
    text, other = str(stored), str(literal)
    if _is_id_path(path) and text.isdigit() and other.isdigit():
        a, b = int(text), int(other)
        return (a > b) - (a < b)
    if _DATETIME_RE.match(text):
        try:
            left, right = instant(text, tz_name), instant(other, tz_name)
        except ValueError:
            return None
        return (left > right) - (left < right)
    if _DATE_RE.match(text) and _DATE_RE.match(other[:10]):
        other = other[:10]
        return (text > other) - (text < other)
    a, b = text.casefold(), other.casefold()
    return (a > b) - (a < b)


@lru_cache(maxsize=200_000)
def _scatter(entity: str, ident: str) -> str:
    return hashlib.sha1(f"{entity}:{ident}".encode()).hexdigest()


def default_order(kind: EntityKind, record: dict[str, Any]) -> Any:
    # Name lists come back sorted by name (byte order: "PG&E" before "Pam", as recorded).
    # Transactions come back in an order QBO does not specify; a fixed scramble of the Id stands in
    # for it, so a client that pages without ORDERBY gets a stable but meaningless order.
    if kind.is_list:
        return str(record.get("FullyQualifiedName") or record.get("DisplayName") or record.get("Name") or "")
    return _scatter(kind.name, record_key(kind.name, record))


def validate(query: Query, kind: EntityKind, rows: list[dict[str, Any]], tz_name: str) -> None:
    always = {"id", "metadata", "synctoken", "domain", "sparse"}
    paths = [c.field for c in query.conditions] + [f for f, _ in query.order_by]
    for path in paths:
        head = path.split(".", 1)[0].lower()
        # A property is known when any row has it (usually the first one looked at).
        if rows and head not in always and not any(head in (k.lower() for k in row) for row in rows):
            raise QueryError("validation", f"QueryValidationError: Property {head} not found for Entity {kind.name}")
    for condition in query.conditions:
        last = condition.field.rsplit(".", 1)[-1].lower()
        if last in ("lastupdatedtime", "createtime"):
            for literal in condition.values:
                try:
                    parse_instant(str(literal), tz_name)
                except ValueError:
                    detail = f"QueryValidationError: Invalid date time value: {literal}"
                    raise QueryError("validation", detail) from None
    for word, value in (("STARTPOSITION", query.start_position), ("MAXRESULTS", query.max_results)):
        if value is not None and value < 1:
            raise QueryError("validation", f"QueryValidationError: value {value} is too small for {word}. "
                                           "Min allowed value is 1")
    if query.max_results is not None and query.max_results > MAX_RESULTS_LIMIT:
        # As reported by QBO users (ruckus/quickbooks-ruby#24): it refuses rather than capping.
        raise QueryError("validation", f"QueryValidationError: value {query.max_results} is too large. "
                                       f"Max allowed value is {MAX_RESULTS_LIMIT}")


def execute(query: Query, kind: EntityKind, rows: list[dict[str, Any]], tz_name: str) -> dict[str, Any]:
    """Run a parsed query over one entity's rows; returns the `QueryResponse` object."""
    validate(query, kind, rows, tz_name)
    return evaluate(query, kind, rows, tz_name)


def evaluate(query: Query, kind: EntityKind, rows: list[dict[str, Any]], tz_name: str) -> dict[str, Any]:
    """A validated query over one entity's rows, filtered and sorted whole (keyset.py answers keyset pages faster)."""
    conditions = list(query.conditions)
    if kind.is_list and not any(c.field.lower() == "active" for c in conditions):
        # List entities hide inactive rows unless the query mentions Active; rows without the flag (the
        # pseudo tax codes TAX and NON) are listed, as in QBO's TaxCode sample.
        rows = [row for row in rows if row.get("Active") is not False]
    selected = [row for row in rows if all(_matches(c, row, tz_name) for c in conditions)]
    if query.count:
        return {"totalCount": len(selected)}
    selected.sort(key=lambda row: default_order(kind, row))
    for path, descending in reversed(query.order_by):
        selected.sort(key=lambda row, p=path: typed(p, lookup(row, p), tz_name), reverse=descending)
    start = query.start_position or 1
    size = query.max_results or DEFAULT_MAX_RESULTS
    page = selected[start - 1:start - 1 + size]
    if not page:
        return {}
    return {kind.name: page, "startPosition": start, "maxResults": len(page)}
