"""The one name resolver (app.catalogue.resolve_name): exact, unique prefix, else the closest names."""

from __future__ import annotations

import pytest

from app.catalogue import UnknownName, resolve_name

NAMES = ["fraud-scorer", "fraud-shadow", "churn-predictor", "loan-pricing"]


@pytest.mark.parametrize(("given", "name", "notice"), [
    ("loan-pricing", "loan-pricing", None),
    ("loan", "loan-pricing", "loan -> loan-pricing"),
    ("fraud-sc", "fraud-scorer", "fraud-sc -> fraud-scorer"),
    ("Churn", "churn-predictor", "Churn -> churn-predictor"),
    ("  loan-pricing ", "loan-pricing", None),
])
def test_resolves(given: str, name: str, notice: str | None) -> None:
    resolved = resolve_name(given, NAMES)
    assert (resolved.name, resolved.notice) == (name, notice)


@pytest.mark.parametrize(("given", "message"), [
    ("fruad-scorer", "unknown model 'fruad-scorer'; did you mean fraud-scorer or fraud-shadow?"),
    ("fraud", "model 'fraud' is a prefix of 2: fraud-scorer, fraud-shadow; say which"),
    ("xyz", "unknown model 'xyz' (known: churn-predictor, fraud-scorer, fraud-shadow, loan-pricing)"),
    ("", "unknown model '' (known: churn-predictor, fraud-scorer, fraud-shadow, loan-pricing)"),
])
def test_refuses_with_one_line(given: str, message: str) -> None:
    with pytest.raises(UnknownName) as raised:
        resolve_name(given, NAMES)
    assert str(raised.value) == message and "\n" not in message


def test_no_models_at_all() -> None:
    with pytest.raises(UnknownName, match=r"^unknown model 'fraud' \(no models in this store\)$"):
        resolve_name("fraud", [])


def test_versions_are_scoped_to_their_model() -> None:
    assert resolve_name("v2.4", ["v2.3.1", "v2.4.0-rc1"], kind="version", scope="fraud").name == "v2.4.0-rc1"
    with pytest.raises(UnknownName) as raised:
        resolve_name("v9", ["v1", "v2"], kind="version", scope="fraud")
    assert str(raised.value) == "unknown version 'v9' of fraud; did you mean v2 or v1?"


def test_untrusted_names_are_cleaned_in_messages() -> None:
    with pytest.raises(UnknownName) as raised:
        resolve_name("x", ["evil\x1b[31mred", "ok"])
    assert "\x1b" not in str(raised.value)
