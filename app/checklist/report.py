"""Rendering the checklist for people: the terminal table of ``modeldeck check`` and the Markdown
report of ``modeldeck report``.

Evidence, notes, card text and audit details are untrusted (they carry feature names from logs,
waiver reasons, text from model cards). In the terminal, control and bidi characters are shown
escaped so they cannot move the cursor or recolour the screen; in Markdown, every character that
could start markup is backslash-escaped and newlines become ``<br>``, so a ``|`` or a newline
cannot break the table and a heading or link in a note renders as the literal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.checklist.evaluate import readiness_score, required_roles
from app.checklist.areas import READINESS_AREAS
from app.models import AuditEntry, CheckItem, ModelInfo, SignOff, Version
from app.checklist.model_card import REQUIRED_SECTIONS, parse_card
from app.text import clean, terminal_line
from app.timeutil import TimeFormat, format_ms, ms_to_iso

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start markup
# mid-line (emphasis, code, links, HTML, entities, GFM tables and strikethrough).
_INLINE = re.compile(r"([\\`*_\[\]<>|&~!])")
# ...and these only at the start of a line (headings, lists, quotes, rules).
_LINE_START = re.compile(r"^(\s*)([#+\-=>]|\d+[.)])")
TABLE_CELL_LIMIT = 120


def _escape_control(text: str) -> str:
    return clean(text, keep_newlines=True)


terminal_text = terminal_line


def md_inline(value: Any, *, limit: int | None = None) -> str:
    """Untrusted text as one Markdown line (a table cell): literal, never markup, never a new row."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    lines = [_escape_control(line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    escaped = [_LINE_START.sub(r"\1\\\2", _INLINE.sub(r"\\\1", line)) for line in lines]
    return "<br>".join(escaped)


def md_quote(value: Any) -> str:
    """Untrusted, possibly multi-line text as a literal Markdown block quote (for detail sections)."""
    text = "" if value is None else str(value)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join("> " + _LINE_START.sub(r"\1\\\2", _INLINE.sub(r"\\\1", _escape_control(line).strip()))
                     for line in lines)


def md_fence(value: str) -> str:
    """Text as a fenced code block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{_escape_control(value).rstrip()}\n{fence}"


def _when(ms: int | None) -> str:
    return ms_to_iso(ms) if ms is not None else "-"


def _expiry(item: CheckItem) -> str:
    if item.auto or item.expires_at is None:
        return ""
    return f" [by {item.updated_by or '-'}, expires {format_ms(item.expires_at, TimeFormat.DATE)}]"


def format_check_table(items: list[CheckItem]) -> list[str]:
    """``modeldeck check``'s lines: one row per area, evidence last and whole (CI logs are wide)."""
    header = ("AREA", "STATUS", "OWNER", "UPDATED (UTC)", "EVIDENCE")
    rows = [(READINESS_AREAS.get(i.area, i.area), i.status.value.upper() + ("" if i.auto else "*"),
             terminal_text(i.owner or "-"), format_ms(i.updated_at, TimeFormat.MINUTE) if i.updated_at else "-",
             terminal_text(i.evidence + (f" [note: {i.note}]" if i.note else "") + _expiry(i)))
            for i in items]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4]
            for row in [header, *rows]]


@dataclass
class ReportData:
    info: ModelInfo
    version: Version | None
    items: list[CheckItem]
    signoffs: list[SignOff]
    audit: list[AuditEntry]
    generated_at: int
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def gather_report(store: Any, model: str, items: list[CheckItem], *, generated_at: int,
                  audit_limit: int = 20) -> ReportData:
    info = store.registry.model(model)
    # No champion named: the version the log saw last, as the checklist checks (issue 13).
    version = store.registry.active_version(model) or store.registry.logged_version(model)
    signoffs = store.checklist.signoffs(model, version.version) if version is not None else []
    return ReportData(info=info, version=version, items=items, signoffs=signoffs,
                      audit=store.audit.entries(model, limit=audit_limit), generated_at=generated_at)


def render_markdown(data: ReportData) -> str:
    done, total = readiness_score(data.items)
    verdict = "ready" if done == total else "not ready"
    out: list[str] = [f"# Readiness report: {md_inline(data.info.name)}", ""]
    version = (f"{md_inline(data.version.version)} ({data.version.stage.value})" if data.version
               else "none (no champion)")
    if data.version is not None and data.version.stage.value != "champion" and data.version.last_seen is not None:
        version = f"{md_inline(data.version.version)} (no champion named; the version the logs saw last)"
    out += ["| | |", "|---|---|",
            f"| Model | {md_inline(data.info.name)} |",
            f"| Active version | {version} |",
            f"| Owner | {md_inline(data.info.owner or '-')} |",
            f"| Generated at | {ms_to_iso(data.generated_at)} |",
            f"| Score | {done}/{total} passed or waived: **{verdict}** |", ""]

    out += ["## Areas", "", "| # | Area | Status | Owner | Updated | Evidence |", "|---|---|---|---|---|---|"]
    for n, item in enumerate(data.items, 1):
        status = item.status.value + ("" if item.auto else " (manual)")
        out.append(f"| {n} | {READINESS_AREAS.get(item.area, md_inline(item.area))} | {status} | "
                   f"{md_inline(item.owner or '-')} | {_when(item.updated_at)} | "
                   f"{md_inline(item.evidence or '-', limit=TABLE_CELL_LIMIT)} |")
    out.append("")

    out += ["## Details", ""]
    for n, item in enumerate(data.items, 1):
        out += [f"### {n}. {READINESS_AREAS.get(item.area, md_inline(item.area))}: {item.status.value}", ""]
        kind = "automatic check" if item.auto else "set by hand"
        expiry = f"; expires {_when(item.expires_at)}" if not item.auto and item.expires_at is not None else ""
        out += [f"{kind}; updated {_when(item.updated_at)} by {md_inline(item.updated_by or '-')}{expiry}", ""]
        out += ["Evidence:", "", md_quote(item.evidence or "-"), ""]
        if item.note:
            out += ["Note:" if item.status.value != "waived" else "Waiver reason:", "", md_quote(item.note), ""]

    out += _signoff_section(data)
    out += _card_section(data)

    out += ["## Recent audit entries", ""]
    if not data.audit:
        out += ["None.", ""]
    else:
        out += ["| Time | Actor | Action | Outcome | Detail |", "|---|---|---|---|---|"]
        for entry in data.audit:
            detail = orjson.dumps(entry.detail).decode() if entry.detail else "-"
            out.append(f"| {ms_to_iso(entry.ts)} | {md_inline(entry.actor)} | {md_inline(entry.action)} | "
                       f"{md_inline(entry.outcome or '-')} | {md_inline(detail, limit=TABLE_CELL_LIMIT)} |")
        out.append("")
    return "\n".join(out)


def _signoff_section(data: ReportData) -> list[str]:
    if data.version is None:
        return ["## Sign-offs", "", "No active version to sign off.", ""]
    out = [f"## Sign-offs ({md_inline(data.version.version)})", ""]
    signed = {s.role: s for s in data.signoffs}
    out += ["| Role | Required | Signed by | At | Expires | Note |", "|---|---|---|---|---|---|"]
    required = required_roles(data.info)
    for role in dict.fromkeys([*required, *signed]):
        s = signed.get(role)
        expires = "-"
        if s is not None and s.expires_at is not None:
            expires = _when(s.expires_at) + ("" if s.live(data.generated_at) else " **expired**")
        out.append(f"| {md_inline(role)} | {'yes' if role in required else 'no'} | "
                   f"{md_inline(s.signed_by) if s else '**missing**'} | {_when(s.signed_at) if s else '-'} | "
                   f"{expires} | {md_inline(s.note or '-', limit=TABLE_CELL_LIMIT) if s else '-'} |")
    return out + [""]


def _card_section(data: ReportData) -> list[str]:
    if data.version is None or not data.version.card:
        return []
    card = parse_card(data.version.card)
    out = [f"## Model card ({md_inline(data.version.version)})", "", "| Required section | Heading in the card |",
           "|---|---|"]
    for sid, title in REQUIRED_SECTIONS.items():
        heading = md_inline(card.sections[sid][0]) if sid in card.sections else (
            "**empty**" if sid in card.empty else "**missing**")
        out.append(f"| {title} | {heading} |")
    out.append("")
    # The card's own Markdown is shown literally: rendered, it could add headings or tables to the report.
    for heading, body in card.raw.items():
        out += [f"#### {md_inline(heading) or '(untitled)'}", "", md_fence(body or ""), ""]
    return out
