"""The prediction-log query language: text -> AST.

    request:ID  entity:ID  model:NAME  version:V  status:error|ok  label:X
    since:2h  until:2026-11-24T10:00  score>=0.9  latency_ms>200  prediction=fraud
    features.amount>1000  context.region="eu west"  "free text"  -term
    differs:V  differs:V@KEY   (answers that differ from version V's answer to the same request)

Terms are separated by whitespace and ANDed; ``OR`` (upper case) joins alternatives, and AND binds
tighter than OR (``a b OR c`` is ``(a b) OR c``); parentheses group, ``-( ... )`` negates a group.
Free text matches words split on punctuation (``TimeoutError:`` is the word ``timeouterror``);
``word*`` is a prefix, ``"a b"`` the exact sequence. A leading ``-`` negates a term. A value may be
double-quoted to hold spaces or operator characters (``\\"`` and ``\\\\`` escape inside quotes).
Every mistake becomes a ``SearchError`` naming the token and its 1-based column, never an
exception from deeper down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple, Union

from time import time_ns

from app.timeutil import parse_duration_ms, parse_time_ref

Op = Literal["=", "!=", ">", ">=", "<", "<="]
Value = Union[int, float, str]

# field -> the operators it accepts (":" is read as "=").
_ID_FIELDS = {"request": "request_id", "entity": "entity_id", "model": "model", "version": "version"}
_NUMERIC_FIELDS = ("score", "latency_ms")
_DYNAMIC_FIELDS = ("prediction", "label")  # number or text: SQLite dynamic typing
_JSON_FIELDS = ("features", "context")
_TIME_FIELDS = ("since", "until")
FIELD_NAMES = ("request:", "entity:", "model:", "version:", "status:", "label:", "since:", "until:",
               "score", "latency_ms", "prediction", "features.", "context.", "differs:")

# Longest operators first so ">=" is not read as ">" followed by "=".
_OPERATORS = (">=", "<=", "!=", ":", "=", ">", "<")
_OPERATOR_CHARS = set(":=!<>")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_CHAR_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4}))")
# Limits, so a query fails with a sentence rather than deep in SQLite ("Expression tree is too large"
# near 1000 ANDed terms) or in an integer conversion: no operator types more terms than this, and
# SQLite integers are 64-bit.
MAX_TERMS = 100
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Free text is split into words on everything but letters and digits (the FTS tokenizer, plain
# unicode61): a term without a letter or digit matches nothing.


class SearchError(ValueError):
    """A query the language cannot read; says which token and where (1-based column)."""

    def __init__(self, message: str, token: str, column: int) -> None:
        self.message = message
        self.token = token
        self.column = column
        super().__init__(f"{message}: {token!r} at column {column}")


@dataclass(frozen=True)
class FieldTerm:
    """``column OP value`` on a plain column (ids, model, version, status, score, latency, ...)."""

    column: str
    op: Op
    value: Value
    negated: bool = False
    # Text form of a number as typed, so `label:01` also matches the text "01".
    text: str | None = None


@dataclass(frozen=True)
class JsonTerm:
    """``features.NAME OP value`` / ``context.NAME OP value``: one top-level key of a JSON column."""

    column: str  # "features" or "context"
    key: str
    op: Op
    value: Value
    negated: bool = False
    text: str | None = None


@dataclass(frozen=True)
class TimeTerm:
    """``since:`` (ts >= at) or ``until:`` (ts < at), resolved to epoch ms when parsed."""

    bound: Literal["since", "until"]
    at: int
    negated: bool = False


@dataclass(frozen=True)
class TextTerm:
    """Free text: a phrase matched by the FTS index (request id, entity id, text values, error)."""

    phrase: str
    negated: bool = False
    prefix: bool = False  # ``word*``: the last word of the phrase is a prefix


@dataclass(frozen=True)
class PairTerm:
    """``differs:V`` / ``differs:V@KEY``: this answer differs from version V's answer to the same
    request (same model; found by request_id, or by this row's context.KEY, e.g. a shadow's
    ``shadow_of``). Both answers ok. What the Compare tab opens to list disagreements."""

    version: str
    key: str | None = None
    negated: bool = False


@dataclass(frozen=True)
class AnyOf:
    """``a OR b`` / ``( ... )``: the row matches when every term of one alternative matches.

    No alternatives matches nothing (a ``model:x*`` glob that names no model)."""

    alternatives: tuple[tuple["Term", ...], ...]
    negated: bool = False
    # For a group with no alternatives, made from a name that names nothing: what to tell the operator
    # ("no version named 'v99'"), so an empty answer says why in the user's words, not the group's.
    names_nothing: str = ""


Term = Union[FieldTerm, JsonTerm, TimeTerm, TextTerm, PairTerm, AnyOf]


class Query(NamedTuple):
    """A parsed query. A NamedTuple, not a frozen dataclass: immutable alike, and built without a Python
    frame (``parse`` makes one per search: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, ~3k interpreter instructions of an id lookup's whole ~110k)."""

    text: str
    terms: tuple[Term, ...]
    now: int  # the "now" that relative times were resolved against: pages of one query agree

    @property
    def models(self) -> list[str]:
        """The models a top-level ``model:NAME`` asks for (not those inside OR)."""
        return [t.value for t in self.terms if isinstance(t, FieldTerm) and t.column == "model"
                and t.op == "=" and not t.negated and isinstance(t.value, str)]


def new_query(text: str, terms: tuple[Term, ...], now: int) -> Query:
    """``Query(text, terms, now)`` without the Python frame of a NamedTuple's own ``__new__``."""
    return _new_tuple(Query, (text, terms, now))


_new_tuple = tuple.__new__


@dataclass(frozen=True)
class _Token:
    text: str  # as typed, for messages
    column: int  # 1-based
    negated: bool
    field: str | None  # None: free text
    op: str | None
    value: str
    quoted: bool  # the value (or the whole free-text term) was in double quotes
    kind: str = "term"  # "term", or the grammar: "(", ")", "OR", "AND"


def parse(text: str, *, now: int | None = None) -> Query:
    """Parse a query; raises SearchError with the offending token and its column."""
    # app.timeutil.now_ms's sum, inline: its frame is a tenth of a parse served from the memo below.
    reference = time_ns() // 1_000_000 if now is None else now
    tokens, terms = _parse_cached(text)
    if terms is None:
        terms = _build(tokens, reference)
    return _new_tuple(Query, (text, terms, reference))  # new_query's body: no frame around it here either


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> tuple[tuple[_Token, ...], tuple[Term, ...] | None]:
    """The tokens of a query and, unless a term is relative to "now" (``since:2h``), its terms.

    Parsing is a pure function of the text apart from relative times, and a screen or a pager
    parses the same text again and again: this memo saves the ~5-15 us of a parse. Both
    results are immutable (tuples of frozen dataclasses), so sharing them is safe; a query
    that fails raises from here every time (lru_cache keeps no exceptions).
    """
    tokens = tuple(_tokens(text))
    if len(tokens) > MAX_TERMS:
        extra = tokens[MAX_TERMS]
        raise SearchError(f"too many terms ({len(tokens)}; at most {MAX_TERMS})", extra.text, extra.column)
    if any(token.field in _TIME_FIELDS and _is_duration(token.value) for token in tokens):
        return tokens, None  # resolved against each call's now
    return tokens, _build(tokens, 0)


def _build(tokens: tuple[_Token, ...], now: int) -> tuple[Term, ...]:
    """Tokens -> terms: AND binds tighter than OR; parentheses group (recursive descent)."""
    position = 0

    def fail(message: str, token: _Token) -> SearchError:
        return SearchError(message, token.text, token.column)

    def expression(opening: _Token | None) -> tuple[Term, ...]:
        nonlocal position
        alternatives: list[tuple[Term, ...]] = []
        current: list[Term] = []
        while position < len(tokens):
            token = tokens[position]
            if token.kind == ")":
                if opening is None:
                    raise fail("a ')' without its '('", token)
                break
            position += 1
            if token.kind in ("OR", "AND"):
                if not current:
                    raise fail(f"{token.kind} needs a term before it", token)
                if position >= len(tokens) or tokens[position].kind in (")", "OR", "AND"):
                    raise fail(f"{token.kind} needs a term after it", token)
                if token.kind == "OR":
                    alternatives.append(tuple(current))
                    current = []
                continue
            if token.kind == "(":
                inner = expression(token)
                if position >= len(tokens):
                    raise fail("this '(' is never closed", token)
                position += 1  # the ')'
                if not inner:
                    raise fail("empty parentheses", token)
                if token.negated:
                    group = inner[0] if len(inner) == 1 and isinstance(inner[0], AnyOf) else AnyOf((inner,))
                    current.append(AnyOf(group.alternatives, True) if isinstance(group, AnyOf) else group)
                else:
                    current.extend(inner)
                continue
            current.append(_term(token, now))
        if alternatives:
            alternatives.append(tuple(current))
            return (AnyOf(tuple(alternatives)),)
        return tuple(current)

    return expression(None)


def _is_duration(value: str) -> bool:
    """Whether parse_time_ref reads ``value`` relative to now (the one input it uses now for)."""
    try:
        parse_duration_ms(value)
    except ValueError:
        return False
    return True


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    depth = 0  # open parentheses: inside one, a ')' ends a word or value

    def ends(at: int) -> bool:
        return text[at].isspace() or (depth > 0 and text[at] == ")")

    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        if text[i] == ")":
            if depth == 0:
                raise SearchError("a ')' without its '('", ")", i + 1)
            depth -= 1
            tokens.append(_Token(")", i + 1, False, None, None, ")", False, ")"))
            i += 1
            continue
        negated = False
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
        if text[i] == "(":
            depth += 1
            tokens.append(_Token(text[start:i + 1], start + 1, negated, None, None, "(", False, "("))
            i += 1
            continue
        if text[i] == '"':
            value, i = _quoted(text, i, start)
            _expect_boundary(text, i, start, depth)
            tokens.append(_Token(text[start:i], start + 1, negated, None, None, value, True))
            continue
        # A bare word up to whitespace; a field name ends at the first operator character.
        j = i
        while j < n and not ends(j) and text[j] not in _OPERATOR_CHARS and text[j] != '"':
            j += 1
        if j < n and text[j] in _OPERATOR_CHARS and j > i:
            name = text[i:j]
            op = next((o for o in _OPERATORS if text.startswith(o, j)), None)
            if op is None:  # a lone "!" (found by the fuzz test: it raised StopIteration)
                raise SearchError("not an operator (use : = != > >= < <=)", text[start:j + 1], start + 1)
            k = j + len(op)
            if k < n and text[k] == '"':
                value, k = _quoted(text, k, start)
                quoted = True
            else:
                m = k
                while m < n and not ends(m):
                    if text[m] == '"':
                        raise SearchError("a quote inside a value (quote the whole value)", text[start:m + 1],
                                          start + 1)
                    m += 1
                value, k, quoted = text[k:m], m, False
            _expect_boundary(text, k, start, depth)
            tokens.append(_Token(text[start:k], start + 1, negated, name, op, value, quoted))
            i = k
            continue
        # Free text: read to whitespace (a word with an operator inside it was read as a field
        # above: `10:30` must be quoted to be searched as text).
        while j < n and not ends(j):
            if text[j] == '"':
                raise SearchError("a quote inside a word (quote the whole phrase)", text[start:j + 1], start + 1)
            j += 1
        word = text[i:j]
        if not word:
            raise SearchError("a lone operator", text[start:j], start + 1)
        kind = word if word in ("OR", "AND") and not negated else "term"
        tokens.append(_Token(text[start:j], start + 1, negated, None, None, word, False, kind))
        i = j
    if depth:
        opening = next(t for t in reversed(tokens) if t.kind == "(")
        raise SearchError("this '(' is never closed", opening.text, opening.column)
    return tokens


def _quoted(text: str, i: int, start: int) -> tuple[str, int]:
    """Read a double-quoted string starting at text[i] == '"'; returns (value, index after it)."""
    out: list[str] = []
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text) and text[j + 1] in '"\\':
            out.append(text[j + 1])
            j += 2
            continue
        escaped = _CHAR_ESCAPE.match(text, j) if ch == "\\" else None
        if escaped:  # \xNN / \uNNNN: how quote_value writes a control character (app/text.py's form)
            out.append(chr(int(escaped.group(1) or escaped.group(2), 16)))
            j = escaped.end()
            continue
        if ch == '"':
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise SearchError("unterminated quote", text[start:], start + 1)


def _expect_boundary(text: str, i: int, start: int, depth: int = 0) -> None:
    if i < len(text) and not text[i].isspace() and not (depth > 0 and text[i] == ")"):
        end = i
        while end < len(text) and not text[end].isspace():
            end += 1
        raise SearchError("put a space after the closing quote", text[start:end], start + 1)


def _term(token: _Token, now: int) -> Term:
    try:
        return _checked_term(token, now)
    except _OutOfRange:
        raise SearchError("number out of range (64-bit integers, finite numbers)", token.text,
                          token.column) from None


def _checked_term(token: _Token, now: int) -> Term:
    def fail(message: str) -> SearchError:
        return SearchError(message, token.text, token.column)

    if token.field is None:
        phrase, prefix = token.value, False
        if not token.quoted and phrase.endswith("*"):
            phrase, prefix = phrase.rstrip("*"), True  # word*: a prefix
        if not any(ch.isalnum() for ch in phrase):
            raise fail("nothing searchable in this text (letters or digits needed)")
        return TextTerm(phrase, token.negated, prefix)

    field, op, raw = token.field, "=" if token.op == ":" else token.op, token.value
    assert op is not None
    if raw == "" and not token.quoted and token.op == ":" and not _known_field(field):
        return TextTerm(field, token.negated)  # `TimeoutError:` pasted from a log: the word
    if raw == "" and not token.quoted:
        raise fail(f"{field}{token.op} needs a value")

    if field in _ID_FIELDS or field == "status":
        if op not in ("=", "!="):
            raise fail(f"{field} takes : = or !=")
        if field == "status" and raw not in ("ok", "error"):
            raise fail("status is ok or error")
        return FieldTerm(_ID_FIELDS.get(field, field), op, raw, token.negated)  # type: ignore[arg-type]

    if field == "differs":
        version, at, key = raw.rpartition("@") if "@" in raw else (raw, "", "")
        if token.op != ":" or not version or (at and not key) or '"' in key:
            raise fail("write differs:VERSION or differs:VERSION@CONTEXT_KEY")
        return PairTerm(version, key or None, token.negated)

    if field in _TIME_FIELDS:
        if token.op != ":":
            raise fail(f"write {field}:15m, {field}:2h, {field}:7d or {field}:ISO-TIME")
        try:
            parse_duration_ms(raw)
        except ValueError as exc:
            if "too long" in str(exc):
                raise fail("duration too long (use 15m, 2h, 7d or an ISO timestamp)") from None
        try:
            at = parse_time_ref(raw, now=now)
        except ValueError:
            raise fail("not a time (use 15m, 2h, 7d or an ISO timestamp)") from None
        return TimeTerm(field, at, token.negated)  # type: ignore[arg-type]

    if field in _NUMERIC_FIELDS:
        number = _number(raw) if not token.quoted else None
        if number is None:
            raise fail(f"{field} compares with a number")
        return FieldTerm(field, op, number, token.negated)  # type: ignore[arg-type]

    if field in _DYNAMIC_FIELDS:
        value, text = _dynamic(raw, token.quoted)
        return FieldTerm(field, op, value, token.negated, text)  # type: ignore[arg-type]

    head, dot, key = field.partition(".")
    if head in _JSON_FIELDS and dot:
        if not key:
            raise fail(f"name the key: {head}.NAME")
        if "\\" in key:  # a JSON path reads it as an escape: the term would silently match nothing
            raise fail(f"a {head} key with a backslash cannot be searched")
        value, text = _dynamic(raw, token.quoted)
        return JsonTerm(head, key, op, value, token.negated, text)  # type: ignore[arg-type]
    if head in _JSON_FIELDS:
        raise fail(f"name the key: {head}.NAME")
    raise fail(_unknown_field_message(field))


def _known_field(field: str) -> bool:
    head = field.partition(".")[0]
    return (field in _ID_FIELDS or field in ("status", "differs") or field in _TIME_FIELDS
            or field in _NUMERIC_FIELDS or field in _DYNAMIC_FIELDS or head in _JSON_FIELDS)


def _unknown_field_message(field: str) -> str:
    import difflib

    known = [*_ID_FIELDS, "status", *_TIME_FIELDS, *_NUMERIC_FIELDS, *_DYNAMIC_FIELDS, "features.NAME",
             "context.NAME", "differs"]
    close = difflib.get_close_matches(field, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown field {field!r} ({hint}fields: {' '.join(known)}; quote text to search for it)"


def reference() -> list[tuple[str, str]]:
    """The language as (what to type, what it does) rows for help screens, each part short
    enough for a 64-cell box.

    Built from the field tables the parser reads, so a field added there shows up here too
    (a test parses every example and checks every field is listed).
    """
    compare = " ".join(o for o in _OPERATORS if o != ":")
    return [
        (" ".join(f"{name}:" for name in _ID_FIELDS), "exact match, or != (version!=v2)"),
        ("status:" + "|".join(("ok", "error")), "the request succeeded or failed"),
        ("  ".join(_NUMERIC_FIELDS), f"number: {compare} (score>=0.9)"),
        ("  ".join(_DYNAMIC_FIELDS), "number or text (prediction=fraud)"),
        ("  ".join(f"{name}.KEY" for name in _JSON_FIELDS), "one JSON key (features.amount>1000)"),
        ("  ".join(f"{name}:" for name in _TIME_FIELDS), "15m 2h 7d or ISO time (since:2h)"),
        ("differs:V  differs:V@KEY", "answer differs from version V's"),
        ('word  "a phrase"  pre*', "words of ids, text values, errors"),
        ("a OR b  (a OR b) c", "either; parentheses group"),
        ("-term", "leave out its matches (-status:ok)"),
        ('KEY="a b"', 'quote spaces; \\" and \\\\ escape inside'),
        ("term term", "every term must match: AND"),
    ]


def _number(raw: str) -> int | float | None:
    if _INTEGER.match(raw):
        number = int(raw)
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise _OutOfRange
        return number
    if _NUMBER.match(raw):
        number = float(raw)
        if number in (float("inf"), float("-inf")):
            raise _OutOfRange
        return number
    return None


class _OutOfRange(ValueError):
    """A number beyond what the store holds (64-bit integers, finite floats)."""


def _dynamic(raw: str, quoted: bool) -> tuple[Value, str | None]:
    """A value that may be a number or text: unquoted numbers compare as numbers (and as typed)."""
    if quoted:
        return raw, None
    if raw in ("true", "false"):  # JSON booleans come out of json_extract as 1 / 0
        return int(raw == "true"), raw
    number = _number(raw)
    if number is None:
        return raw, None
    return number, raw
