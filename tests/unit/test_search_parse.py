"""The query language: every field and operator, quoting, negation, time references, errors."""

from __future__ import annotations

import pytest

from app.search.searcher import count_text, Count
from app.search.language import FieldTerm, JsonTerm, SearchError, TextTerm, TimeTerm, parse
from app.store.search_sql import compile_query, fts_phrase
from app.timeutil import iso_to_ms

NOW = iso_to_ms("2026-11-24T12:00:00Z")


def terms(text: str):
    return parse(text, now=NOW).terms


@pytest.mark.parametrize("text, column", [
    ("request:abc-1", "request_id"), ("entity:cust-42", "entity_id"), ("model:fraud", "model"),
    ("version:v2", "version"), ("status:error", "status"), ("status:ok", "status"),
])
def test_id_fields_are_equality_on_their_column(text: str, column: str) -> None:
    (term,) = terms(text)
    assert term == FieldTerm(column, "=", text.split(":", 1)[1])


@pytest.mark.parametrize("op", ["=", "!=", ">", ">=", "<", "<="])
def test_every_comparison_operator_on_numeric_fields(op: str) -> None:
    (score,) = terms(f"score{op}0.9")
    (latency,) = terms(f"latency_ms{op}200")
    assert (score.column, score.op, score.value) == ("score", op, 0.9)
    assert (latency.column, latency.op, latency.value) == ("latency_ms", op, 200)


def test_colon_means_equals_for_comparable_fields() -> None:
    assert terms("score:1")[0].op == "="
    assert terms("features.country:DE")[0] == JsonTerm("features", "country", "=", "DE")


def test_features_and_context_keys_keep_dots_and_quotes() -> None:
    (dotted,) = terms("features.a.b>=3")
    (quoted,) = terms("context.it's=yes")
    assert (dotted.key, dotted.op, dotted.value) == ("a.b", ">=", 3)
    assert (quoted.column, quoted.key, quoted.value) == ("context", "it's", "yes")


def test_numbers_keep_their_typed_text_and_quotes_force_text() -> None:
    assert terms("label:01")[0] == FieldTerm("label", "=", 1, text="01")
    assert terms('label:"01"')[0] == FieldTerm("label", "=", "01")
    assert terms("prediction=fraud")[0] == FieldTerm("prediction", "=", "fraud")
    assert terms("features.flag=true")[0].value == 1


def test_quoted_values_and_phrases() -> None:
    assert terms('context.region="eu west"')[0].value == "eu west"
    assert terms('"connection reset" timeout') == (TextTerm("connection reset"), TextTerm("timeout"))
    assert terms(r'"say \"hi\" \\ bye"') == (TextTerm('say "hi" \\ bye'),)


def test_negation_of_every_kind_of_term() -> None:
    got = terms('-status:error -"conn reset" -timeout -features.amount>5 -since:1h -model:eta')
    assert all(t.negated for t in got)
    assert [type(t) for t in got] == [FieldTerm, TextTerm, TextTerm, JsonTerm, TimeTerm, FieldTerm]
    # A minus inside a word is part of the word.
    assert terms("eu-west") == (TextTerm("eu-west"),)


def test_since_and_until_take_durations_and_iso_times() -> None:
    assert terms("since:15m")[0] == TimeTerm("since", NOW - 15 * 60_000)
    assert terms("since:2h")[0].at == NOW - 2 * 3_600_000
    assert terms("since:7d")[0].at == NOW - 7 * 86_400_000
    assert terms("until:2026-11-24T10:00")[0] == TimeTerm("until", iso_to_ms("2026-11-24T10:00:00Z"))
    assert terms("since:2026-11-24T10:00:00+02:00")[0].at == iso_to_ms("2026-11-24T08:00:00Z")


def test_terms_are_anded_in_sql() -> None:
    compiled = compile_query(parse("model:fraud status:error score>0.5", now=NOW))
    assert compiled.where.count(" AND ") == 2
    assert compiled.params == ("fraud", "error", 0.5)


@pytest.mark.parametrize("text, token, column", [
    ("model:fraud foo:bar", "foo:bar", 13),
    ("scor>1", "scor>1", 1),
    ("score>high", "score>high", 1),
    ("status:broken", "status:broken", 1),
    ("since:yesterday", "since:yesterday", 1),
    ("since>2h", "since>2h", 1),
    ('model:fraud "unterminated', '"unterminated', 13),
    ('  abc"def', 'abc"', 3),
    ('"a"b', '"a"b', 1),
    ("model>fraud", "model>fraud", 1),
    ("features.=3", "features.=3", 1),
    ("model:", "model:", 1),
    ("x ***", "***", 3),
])
def test_errors_name_the_token_and_its_column(text: str, token: str, column: int) -> None:
    with pytest.raises(SearchError) as caught:
        parse(text, now=NOW)
    assert (caught.value.token, caught.value.column) == (token, column)
    assert f"column {column}" in str(caught.value)


def test_unknown_field_suggests_the_near_one() -> None:
    with pytest.raises(SearchError, match="did you mean score"):
        parse("scor>1", now=NOW)


@pytest.mark.parametrize("text", [
    "request:x'; DROP TABLE predictions; --x",
    "model:\"fraud' OR '1'='1\"",
    "features.amount');DROP/**/TABLE/**/predictions;--=1",
    "context.x]')/**/OR/**/1=1--=1",
    "\"' OR 1=1 --\"",
    "entity:1)/**/OR/**/(1=1",
])
def test_injection_attempts_stay_parameters(text: str) -> None:
    compiled = compile_query(parse(text, now=NOW))
    sql = compiled.where
    for dangerous in ("DROP", "OR 1", "1=1", "--", "/**/", "'1'"):
        assert dangerous not in sql
    assert compiled.params  # the text went somewhere: into the parameters


def test_fts_terms_are_literal_phrases() -> None:
    # A user's quote, star or NEAR is text to look for, not FTS5 syntax.
    assert fts_phrase('a"b') == '"a""b"'
    compiled = compile_query(parse('"NEAR(a b)" "y*" x* -"c OR d"', now=NOW))
    # A bare trailing star is a prefix (FTS5's own `"x" *`); inside quotes it stays text.
    assert compiled.params == ('("NEAR(a b)" AND "y*" AND "x" *) NOT ("c OR d")',)


def test_punctuation_alone_is_not_searchable() -> None:
    # Words split on punctuation: `--` alone would match nothing, so it is a clear error instead.
    with pytest.raises(SearchError, match="nothing searchable"):
        parse("status:error --", now=NOW)


@pytest.mark.parametrize("text, message", [
    ("a OR", "OR needs a term after it"),
    ("OR a", "OR needs a term before it"),
    ("(a OR b", "never closed"),
    ("a OR b )", "without its"),
    ("()", "empty parentheses"),
])
def test_or_and_parentheses_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        parse(text, now=NOW)


def test_and_binds_tighter_than_or() -> None:
    from app.search.language import AnyOf

    (group,) = parse("status:error model:a OR model:b", now=NOW).terms
    assert isinstance(group, AnyOf) and [len(a) for a in group.alternatives] == [2, 1]
    terms = parse("status:error (model:a OR model:b)", now=NOW).terms
    assert len(terms) == 2 and isinstance(terms[1], AnyOf)
    # Lower-case or, and a quoted "OR", are words.
    assert [t.phrase for t in parse('x or "OR"', now=NOW).terms] == ["x", "or", "OR"]  # type: ignore[union-attr]


def test_count_text() -> None:
    assert count_text(1, 50, Count(12_345, False)) == "1-50 of 12,345"
    assert count_text(51, 100, Count(10_000, True)) == "51-100 of more than 10,000"
    assert count_text(1, 0, Count(0, False)) == "no results"


def test_a_query_parsed_again_later_resolves_relative_times_against_the_new_now() -> None:
    # Parses are memoised by text: only the parts that do not depend on "now" may be shared.
    first = parse("model:fraud since:2h until:1h", now=NOW)
    later = parse("model:fraud since:2h until:1h", now=NOW + 60_000)
    assert [t.at for t in first.terms if isinstance(t, TimeTerm)] == [NOW - 7_200_000, NOW - 3_600_000]
    assert [t.at for t in later.terms if isinstance(t, TimeTerm)] == [NOW + 60_000 - 7_200_000,
                                                                      NOW + 60_000 - 3_600_000]
    assert later.now == NOW + 60_000
    absolute = parse("since:2026-11-20T00:00:00Z model:fraud", now=NOW)
    assert parse("since:2026-11-20T00:00:00Z model:fraud", now=NOW + 1).terms == absolute.terms


def test_a_bad_query_fails_every_time_it_is_parsed() -> None:
    for _ in range(2):
        with pytest.raises(SearchError) as error:
            parse("model:fraud scor>1", now=NOW)
        assert error.value.token == "scor>1" and error.value.column == 13
