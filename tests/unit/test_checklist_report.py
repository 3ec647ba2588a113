"""The readiness report and the check table show untrusted text literally: a pipe, a newline, a
heading, a link, HTML or an escape sequence in evidence, notes or a card cannot change the layout."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from app.checklist.evaluate import evaluate, sign_off, waive
from app.checklist.report import (format_check_table, gather_report, md_fence, md_inline, render_markdown,
                                  terminal_text)
from app.models import CheckItem, CheckStatus, ModelInfo, Stage, Version
from app.store import Store

NOW = 1_790_000_000_000
HOSTILE = "ok | fake cell |\n| injected | row |\n# Heading\n[click](http://evil.example) <script>x</script> **bold** `code` &amp;"


def _render_html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


@pytest.mark.parametrize("text", [HOSTILE, "a|b", "line1\r\nline2", "\\| already escaped", "1. list\n- item\n> quote"])
def test_an_escaped_cell_stays_one_literal_cell(text: str):
    html = _render_html(f"| h |\n|---|\n| {md_inline(text)} |\n")
    assert html.count("<td>") == 1 and html.count("<tr>") == 2
    assert "<a " not in html and "<script>" not in html and "<strong>" not in html and "<h1>" not in html


def test_a_cell_keeps_every_character_of_the_text():
    html = _render_html(f"| h |\n|---|\n| {md_inline('a | b [x](y) *z* <i>')} |\n")
    cell = re.search(r"<td>(.*)</td>", html).group(1)
    assert cell == "a | b [x](y) *z* &lt;i&gt;"


def test_long_cells_are_cut_but_details_are_whole():
    long = "x" * 500
    assert len(md_inline(long, limit=120)) == 120
    assert "x" * 500 in render_markdown_for_item(long)


def test_a_fence_cannot_be_closed_by_the_text_inside():
    body = "```\n# not a heading\n````"
    html = _render_html(md_fence(body) + "\n\n# real\n")
    assert html.count("<h1>") == 1 and "# not a heading" in html


def test_terminal_text_shows_escape_sequences_instead_of_running_them():
    shown = terminal_text("\x1b[2J\x1b]0;owned\x07 next\nline\u202eevil")
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown and "\n" not in shown
    assert shown.startswith("\\x1b[2J")


def render_markdown_for_item(evidence: str) -> str:
    from app.checklist.report import ReportData

    info = ModelInfo(name="fraud")
    items = [CheckItem(model="fraud", area="model_card", status=CheckStatus.failed, evidence=evidence, auto=True)]
    return render_markdown(ReportData(info=info, version=None, items=items, signoffs=[], audit=[],
                                      generated_at=NOW))


def test_the_report_of_a_model_with_hostile_text_everywhere_keeps_its_structure(store: Store):
    store.registry.upsert_model(ModelInfo(name="fraud", owner="alice | admin"))
    store.registry.upsert_version(Version(
        model="fraud", version="v2", stage=Stage.champion, created_at=NOW,
        card={"Model details": HOSTILE, "Intended | use": "```\n# escape the fence"}))
    evaluate(store, "fraud", now=NOW)
    waive(store, "fraud", "serving", HOSTILE, actor="alice", expires_in_ms=30 * 86_400_000)
    sign_off(store, "fraud", "engineering", note=HOSTILE, actor="erin")
    items = evaluate(store, "fraud", now=NOW)
    report = render_markdown(gather_report(store, "fraud", items, generated_at=NOW))
    html = _render_html(report)

    assert "<script>" not in html and "<a " not in html and "<strong>bold" not in html
    headings = re.findall(r"<h[12]>(.*?)</h[12]>", html)
    assert headings == ["Readiness report: fraud", "Areas", "Details", "Sign-offs (v2)", "Model card (v2)",
                        "Recent audit entries"]
    tables = re.findall(r"<table>.*?</table>", html, flags=re.S)
    areas = tables[1]
    assert areas.count("<tr>") == 1 + 8 and all(areas.count(f"<td>{n}</td>") == 1 for n in range(1, 9))
    signoffs = tables[2]
    assert signoffs.count("<tr>") == 1 + 5  # engineering, product, data, fairness, retention
    # The waiver reason is shown whole, literally, in the details.
    assert "ok | fake cell |" in html and "[click](http://evil.example)" in html
    assert "1/8 passed or waived" in html  # only the waived area counts


def test_check_table_has_one_line_per_area_even_with_newlines_in_notes(store: Store):
    store.registry.upsert_model(ModelInfo(name="fraud"))
    waive(store, "fraud", "logging", "line one\nline two\x1b[31m", actor="alice", expires_in_ms=30 * 86_400_000)
    lines = format_check_table(evaluate(store, "fraud", now=NOW))
    assert len(lines) == 1 + 8
    logging_line = next(line for line in lines if line.startswith("Prediction logging"))
    assert "WAIVED*" in logging_line and "line one line two\\x1b[31m" in logging_line
