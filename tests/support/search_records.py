"""Records for the search tests, and a brute-force Python reading of the query language.

The Python side is written from the language's documented semantics, independently of the
SQL compiler, so the two can be compared on random records and random queries.
"""

from __future__ import annotations

import random
import re
from typing import Any

import orjson

from app.ingest.parse import fts_text
from fnmatch import fnmatchcase

from app.search.language import AnyOf, FieldTerm, JsonTerm, Query, TextTerm, TimeTerm
from app.store.predictions import PredictionRow

WORDS = ("alpha", "beta", "gamma", "reset", "timeout", "eu-west", "x.y", "ops@corp", "peer")
MODELS = ("fraud", "churn", "eta")
ENTITIES = tuple(f"cust-{i}" for i in range(30))
BASE_MS = 1_790_000_000_000
SPAN_MS = 10 * 86_400_000


def text_pairs(obj: dict[str, Any] | None) -> list[str]:
    return [f"{k} {v}" for k, v in (obj or {}).items() if isinstance(v, str)]


def to_row(record: dict[str, Any]) -> PredictionRow:
    """A record (as ingest would store it) to the tuple the store appends."""
    features, context = record.get("features"), record.get("context")
    return PredictionRow(
        record["ts"], record["model"], record["version"], record["request_id"], record.get("entity_id"),
        record.get("prediction"), record.get("score"), record.get("label"), record.get("latency_ms"),
        record.get("status", "ok"), record.get("error"),
        orjson.dumps(features).decode() if features is not None else None,
        orjson.dumps(context).decode() if context is not None else None,
        fts_text(features, context),  # what ingest indexes: "key value" of every text value
    )


def random_records(n: int, seed: int = 1, start: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for i in range(start, start + n):
        error = rng.random() < 0.15
        features: dict[str, Any] = {
            "amount": rng.choice([rng.randint(0, 2000), round(rng.uniform(0, 2000), 2), "n/a"]),
            "country": rng.choice(["DE", "FR", "US", "eu west"]),
            "zip": rng.choice([1234, "01234", 99, "abc"]),
            "a.b": rng.randint(0, 5),
            "it's": rng.choice(["yes", "no"]),
            "flag": rng.choice([True, False]),
            "note": " ".join(rng.sample(WORDS, 2)),
        }
        for key in list(features):
            if rng.random() < 0.1:
                del features[key]
        record: dict[str, Any] = {
            # Coarse timestamps, so many rows share one ts and the id breaks the tie.
            "ts": BASE_MS + rng.randrange(0, SPAN_MS, 60_000 * 97),
            "model": rng.choice(MODELS),
            "version": rng.choice(["v1", "v2", "v3"]),
            "request_id": f"r-{i}",
            "entity_id": rng.choice([*ENTITIES, None]),
            "prediction": rng.choice([1, 0, 0.5, "yes", "no", "01", None]),
            "score": rng.choice([None, round(rng.random(), 3)]),
            "label": rng.choice([None, 1, 0, "yes", "01"]),
            "latency_ms": rng.choice([None, round(rng.uniform(1, 500), 1)]),
            "status": "error" if error else "ok",
            "error": " ".join(rng.sample(WORDS, 3)) if error else None,
            "features": features if rng.random() < 0.95 else None,
            "context": {"region": rng.choice(["eu-west", "us-east"]), "note": rng.choice(WORDS)},
        }
        records.append(record)
    return records


# --- the brute-force reading ---------------------------------------------------------------

# Words as a person sees them: runs of letters and digits, any other character splits
# (ASCII here: the records and queries of these tests are ASCII).
_TOKEN = re.compile(r"[a-z0-9]+")


def words(text: str | None) -> list[str]:
    return _TOKEN.findall(text.lower()) if text else []


_tokens = words


def _has_phrase(record: dict[str, Any], phrase: str, prefix: bool = False) -> bool:
    wanted = _tokens(phrase)
    if not wanted:
        return False

    def at(got: list[str], i: int) -> bool:
        head, last = wanted[:-1], wanted[-1]
        return got[i:i + len(head)] == head and (got[i + len(head)].startswith(last) if prefix
                                                  else got[i + len(head)] == last)

    # Free text indexes the text values and the error, not the ids (schema step 16); a bare word that is
    # an id (any record's: this one's, when it matches) finds that record through the id's own field.
    if not prefix and not any(ch.isspace() for ch in phrase) and phrase in (record["request_id"],
                                                                            record.get("entity_id")):
        return True
    columns = (" ".join(text_pairs(record.get("features")) + text_pairs(record.get("context"))),
               record.get("error"))
    for column in columns:
        got = _tokens(column)
        if any(at(got, i) for i in range(len(got) - len(wanted) + 1)):
            return True
    return False


def _kind(value: Any) -> str:
    return "text" if isinstance(value, str) else "number"


def _compare(value: Any, op: str, wanted: Any, text: str | None) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        value = int(value)
    if op in ("=", "!="):
        candidates = [wanted] + ([text] if text is not None else [])
        equal = any(_kind(value) == _kind(c) and value == c for c in candidates)
        return equal if op == "=" else not equal
    if _kind(value) != _kind(wanted):
        return False
    return {">": value > wanted, ">=": value >= wanted, "<": value < wanted, "<=": value <= wanted}[op]


def term_matches(term: Any, record: dict[str, Any]) -> bool:
    if isinstance(term, AnyOf):
        hit = any(all(term_matches(t, record) for t in alternative) for alternative in term.alternatives)
    elif isinstance(term, TextTerm):
        hit = _has_phrase(record, term.phrase, term.prefix)
    elif isinstance(term, TimeTerm):
        hit = record["ts"] >= term.at if term.bound == "since" else record["ts"] < term.at
    elif isinstance(term, JsonTerm):
        obj = record.get(term.column) or {}
        hit = _compare(obj.get(term.key), term.op, term.value, term.text)
    else:
        assert isinstance(term, FieldTerm)
        value = record.get(term.column, "ok" if term.column == "status" else None)
        if term.column in ("prediction", "label"):
            hit = _compare(value, term.op, term.value, term.text)
        elif value is None:
            hit = False
        elif term.op in ("=", "!="):
            hit = (value == term.value) == (term.op == "=")
        else:
            hit = _compare(value, term.op, term.value, None)
    return not hit if term.negated else hit


def brute_force(records: list[dict[str, Any]], ids: list[int], query: Query) -> list[int]:
    """Ids of the matching records, newest first by (ts, id)."""
    hits = [(r["ts"], i) for r, i in zip(records, ids) if all(term_matches(t, r) for t in query.terms)]
    return [i for _, i in sorted(hits, reverse=True)]


def name_matches(value: str, typed: str, names: set[str]) -> bool:
    """The reference reading of a ``model:``/``version:`` value: exact, glob, or unique prefix."""
    if typed in names:
        return value == typed
    if set(typed) & set("*?["):
        return fnmatchcase(value, typed)
    starting = [n for n in names if n.startswith(typed)]
    return len(starting) == 1 and value == starting[0]
