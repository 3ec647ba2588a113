"""The demo team's monitoring: alert rules at the three levels with owners, retention, and an alert webhook.

Written once, in ``data/demo-monitoring.toml`` (so ``demo.toml`` carries the very same text); the webhook
target is added here, since it points at the running demo server (its port changes on every start). The
demo console applies all of it where the operator's config leaves it unset, so its readiness checks judge
real rules and a real retention policy, exactly as ``modeldeck --config demo.toml check`` does.
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from typing import TYPE_CHECKING

from app.config.datafiles import data_file
from app.config.settings import AlertRule, GovernanceConfig, NotifyConfig, RetentionConfig

if TYPE_CHECKING:
    from app.config.settings import Settings

DEMO_MONITORING_FILE = data_file("demo-monitoring.toml")
NOTIFY_NAME = "demo-webhook"


@lru_cache(maxsize=1)
def _monitoring_text() -> str:
    try:
        return DEMO_MONITORING_FILE.read_text(encoding="utf-8")
    except OSError:
        return ""  # an install without the data files: no rules, as before


@lru_cache(maxsize=1)
def demo_monitoring() -> tuple[dict[str, list[AlertRule]], RetentionConfig | None]:
    """Model name -> its alert rules, and the retention policy, from data/demo-monitoring.toml."""
    values = tomllib.loads(_monitoring_text())
    rules = {name: [AlertRule.model_validate(rule) for rule in model.get("alerts", [])]
             for name, model in values.get("models", {}).items()}
    retention = RetentionConfig.model_validate(values["retention"]) if "retention" in values else None
    return rules, retention


@lru_cache(maxsize=1)
def demo_governance() -> GovernanceConfig | None:
    """The demo team's [governance] (how recent a timed rollback switch must be), from data/demo-monitoring.toml."""
    values = tomllib.loads(_monitoring_text())
    return GovernanceConfig.model_validate(values["governance"]) if "governance" in values else None


def demo_notify(url: str) -> NotifyConfig:
    """Every alert to the demo server's webhook receiver. Short timeouts and few tries: after the demo has
    stopped, ``watch`` on demo.toml records the failure and goes on (a failed delivery is data, not a crash)."""
    return NotifyConfig(kind="webhook", url=url, name=NOTIFY_NAME, timeout_s=2.0, max_attempts=3, backoff_s=5.0)


def demo_monitoring_toml(notify_url: str) -> list[str]:
    """The lines demo.toml gets: data/demo-monitoring.toml verbatim, then the webhook target."""
    text = _monitoring_text()
    if not text:
        return []
    target = demo_notify(notify_url)
    return [text, "# Where the alerts go: the demo server's webhook receiver (alive while `modeldeck demo` runs).",
            "[[notify]]", f'kind = "{target.kind}"', f"name = {json.dumps(target.name)}",
            f"url = {json.dumps(target.url)}", f"timeout_s = {target.timeout_s}",
            f"max_attempts = {target.max_attempts}", f"backoff_s = {target.backoff_s}", ""]


def with_demo_monitoring(settings: "Settings", notify_url: str | None) -> "Settings":
    """``settings`` with the demo's rules on every model that has none, its retention and governance when none
    is declared, and its webhook when no ``[[notify]]`` target is configured."""
    from app.config.settings import ModelConfig

    rules, retention = demo_monitoring()
    models = dict(settings.models)
    for name, model_rules in rules.items():
        current = models.get(name) or ModelConfig()
        if not current.alerts:
            models[name] = current.model_copy(update={"alerts": model_rules})
    update: dict[str, object] = {"models": models}
    if retention is not None and settings.retention.keep_days is None:
        update["retention"] = retention
    governance = demo_governance()
    if governance is not None and not settings.governance.model_fields_set:
        update["governance"] = governance  # only when the operator's config declares no [governance] of its own
    if notify_url is not None and not settings.notify and _monitoring_text():
        update["notify"] = [demo_notify(notify_url)]
    return settings.model_copy(update=update)
