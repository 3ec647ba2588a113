"""Model cards: required sections found under the names teams really use, placeholders not counted."""

from __future__ import annotations

import pytest

from app.checklist.model_card import REQUIRED_SECTIONS, card_markdown, classify_heading, parse_card


@pytest.mark.parametrize(("heading", "section"), [
    ("Model details", "model_details"),
    ("## 1. Model Details", "model_details"),
    ("model_details", "model_details"),
    ("Model overview", "model_details"),
    ("Intended use", "intended_use"),
    ("intendedUses", "intended_use"),
    ("Primary intended use cases", "intended_use"),
    ("Factors", "factors"),
    ("Relevant factors", "factors"),
    ("Metrics", "metrics"),
    ("Evaluation metrics", "metrics"),
    ("Model performance measures", "metrics"),
    ("Evaluation data", "evaluation_data"),
    ("Evaluation datasets", "evaluation_data"),
    ("Test data", "evaluation_data"),
    ("Training data", "training_data"),
    ("TRAINING DATASET", "training_data"),
    ("Ethical considerations", "caveats"),
    ("Caveats and recommendations", "caveats"),
    ("Caveats & Recommendations", "caveats"),
    ("Quantitative analyses", None),
    ("Changelog", None),
    ("", None),
])
def test_headings_are_classified_by_their_words(heading: str, section: str | None):
    assert classify_heading(heading) == section


def test_a_complete_card_has_no_missing_sections():
    card = {title: f"Text about {title}." for title in REQUIRED_SECTIONS.values()}
    parsed = parse_card(card)
    assert parsed.complete and parsed.missing == [] and parsed.extras == []


def test_missing_and_placeholder_sections_are_reported_in_the_papers_order():
    parsed = parse_card({"Training data": "TBD.", "Model details": "GBM", "Intended use": "  ",
                         "Metrics": {"auc": 0.91}, "Changelog": "v2: retrained"})
    assert parsed.missing == ["intended_use", "factors", "evaluation_data", "training_data", "caveats"]
    assert parsed.empty == ["intended_use", "training_data"]
    assert parsed.present == ["model_details", "metrics"]
    assert parsed.extras == ["Changelog"]


def test_a_second_heading_fills_a_section_left_empty_by_the_first():
    parsed = parse_card({"Ethical considerations": "TODO", "Caveats and recommendations": "Do not use for credit."})
    assert "caveats" in parsed.present and parsed.empty == []


def test_a_whole_markdown_document_is_split_on_its_headings():
    text = ("# Fraud scorer\n\nintro\n\n## Model details\nGBM\n\n## Intended use\nReview queue\n"
            "```\n# not a heading inside code\n```\n## Factors\n\n## Training data\nJan-Sep\n")
    parsed = parse_card(text)
    assert parsed.present == ["model_details", "intended_use", "training_data"]
    assert "# not a heading" in parsed.sections["intended_use"][1]
    assert parsed.empty == ["factors"]


def test_no_card_is_all_missing():
    assert parse_card(None).missing == list(REQUIRED_SECTIONS)
    assert card_markdown(None) == ""


def test_card_markdown_keeps_stored_order():
    assert card_markdown({"Intended use": "Review", "Model details": "GBM"}) == (
        "## Intended use\n\nReview\n\n## Model details\n\nGBM\n")
