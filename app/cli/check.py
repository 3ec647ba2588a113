"""``modeldeck check MODEL [--json]``: the readiness checklist, usable as a CI promotion gate.

Exit status: 0 when every area passes or is waived, 1 otherwise, 2 for an unknown model
(or an unusable store or config).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from app.cli.main import CliContext, pass_cli

EXIT_READY, EXIT_NOT_READY, EXIT_ERROR = 0, 1, 2


def probe_health(settings: Any, model: str, *, timeout_s: float | None = None) -> Any:
    """One health check of the model's serving endpoint (app.models.Health), or None when none is
    configured or its adapter is not available. A dead endpoint comes back as state ``down``."""
    config = settings.models.get(model)
    endpoint = getattr(config, "endpoint", None)
    if endpoint is None:
        return None
    try:
        from app.endpoints import make_adapter
    except ImportError:
        return None

    async def run() -> Any:
        adapter = make_adapter(model, endpoint)
        try:
            # The adapter bounds each request itself; this bounds the whole check.
            return await asyncio.wait_for(adapter.health(), timeout=timeout_s or endpoint.timeout_s * 3)
        finally:
            await adapter.aclose()

    try:
        return asyncio.run(run())
    except (ImportError, KeyError):
        return None  # no adapter for this kind in this build: the area stays pending
    except Exception as exc:  # a timeout or an adapter bug: report it as the endpoint being down
        from app.models import Health, HealthState
        from app.timeutil import now_ms

        return Health(state=HealthState.down, reason=f"health check failed: {type(exc).__name__}",
                      checked_at=now_ms())


def summary(items: list[Any]) -> dict[str, Any]:
    from app.checklist.evaluate import readiness_score

    done, total = readiness_score(items)
    by_status: dict[str, list[str]] = {}
    for item in items:
        by_status.setdefault(item.status.value, []).append(item.area)
    return {"passed_or_waived": done, "total": total, "ready": done == total,
            "failing": by_status.get("fail", []), "pending": by_status.get("pending", []),
            "waived": by_status.get("waived", [])}


@click.command()
@click.argument("model")
@click.option("--version", "version", default=None,
              help="Judge this version (default: the active one), e.g. a challenger before promotion.")
@click.option("--json", "as_json", is_flag=True, help="Print the items and a summary as JSON.")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Check the endpoint's health now (else the serving area stays pending).")
@pass_cli
def check(cli: CliContext, model: str, version: str | None, as_json: bool, probe: bool) -> None:
    """Evaluate MODEL's readiness checklist; exit 0 only if every area passes or is waived."""
    from app.checklist.evaluate import ChecklistError, evaluate
    from app.checklist.areas import READINESS_AREAS
    from app.checklist.report import format_check_table, terminal_text
    from app.timeutil import ms_to_iso, now_ms

    if not cli.store_exists():
        # Checking a model must not create an empty store at a mistyped path.
        from app.store import StoreError

        raise StoreError(f"{cli.db_path}: no such store")
    with cli.open_store() as store:
        # Known before probing anything: a typo in CI should fail fast and clearly (exit 2).
        model = cli.resolve_model(model, store)
        if version is not None:
            version = cli.resolve_version(store, model, version)
        health = probe_health(cli.settings, model) if probe else None
        now = now_ms()
        try:
            items = evaluate(store, model, settings=cli.settings, now=now, health=health, version=version)
        except ChecklistError as exc:  # an unknown model or version
            click.echo(f"modeldeck: error: {terminal_text(exc)}", err=True)
            sys.exit(EXIT_ERROR)
        active = store.registry.active_version(model)
        from_logs = False
        if version is not None:
            active = next(v for v in store.registry.versions(model) if v.version == version)
        elif active is None:
            from_logs = (active := store.registry.logged_version(model)) is not None
    result = summary(items)
    if as_json:
        import orjson

        payload = {
            "model": model,
            "version": active.version if active else None,
            "version_from_logs": from_logs,  # no champion named: the version the log saw last
            "evaluated_at": ms_to_iso(now),
            "items": [{**item.model_dump(mode="json"), "title": READINESS_AREAS[item.area]} for item in items],
            "summary": result,
        }
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    else:
        version = terminal_text(active.version) if active else "no active version"
        if from_logs:
            version += " (from the logs: no champion named)"
        click.echo(f"{terminal_text(model)} {version}: readiness {result['passed_or_waived']}/{result['total']}"
                   f" ({'ready' if result['ready'] else 'not ready'}; * = set by hand)")
        for line in format_check_table(items):
            click.echo(line)
    sys.exit(EXIT_READY if result["ready"] else EXIT_NOT_READY)
