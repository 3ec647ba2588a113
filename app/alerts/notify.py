"""Alert delivery: ``[[notify]]`` targets (Alertmanager, webhook, Slack), routing, retries, the queue.

The flow, once per ``modeldeck watch`` pass (``Notifier.run``):

1. **Queue from state.** Every firing, unacknowledged alert gets one ``firing`` delivery per target that
   routes it; every resolved alert whose firing notice reached a target gets one ``resolved`` delivery
   there. Rows are unique per (alert, target, event): a pass that runs twice, or a restart, queues nothing
   twice. Deriving the queue from the alerts table (not from in-memory transitions) is what makes a kill
   -9 between "the rule fired" and "the page went out" harmless.
2. **Bound the queue.** Beyond ``[watch] queue_max`` outstanding deliveries, the oldest are recorded as
   ``dropped``.
3. **Send what is due**, oldest first: ``sending`` is committed before the request, ``delivered`` (or a
   retry time, doubling from ``backoff_s``, or ``failed`` after ``max_attempts``) after it. A delivery
   found ``sending`` at start-up (the process died during the request) is sent again once, with the same
   ``X-Modeldeck-Delivery`` id. A firing alert acknowledged before its notice went out is not sent
   (``dropped``, "acknowledged").
4. **Keep Alertmanager current.** Alertmanager forgets an alert that is not re-sent (its
   ``resolve_timeout``); it notifies its receivers once per firing itself. Firing, unacknowledged alerts
   are re-sent to Alertmanager targets every ``repeat_s``; a re-send is not a new delivery.

Bodies are built from stored values only; the webhook body is documented in the README.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from app.models import Alert
from app.timeutil import ms_to_iso

if TYPE_CHECKING:
    import httpx

    from app.config.settings import NotifyConfig, Settings
    from app.store import Store
    from app.store.deliveries import Delivery

SIGNATURE_HEADER = "X-Modeldeck-Signature"
DELIVERY_HEADER = "X-Modeldeck-Delivery"
WEBHOOK_BODY_VERSION = 1
MAX_SENDS_PER_PASS = 200
SCHEDULE_LOOKBACK_MS = 7 * 86_400_000  # a schedule notice older than this is not sent late  # a pass never spends more than this many requests on delivery


class DeliveryError(Exception):
    """A target refused or could not be reached; one line."""


def routes(target: "NotifyConfig", alert: Alert) -> bool:
    """Whether ``target`` takes ``alert``: its severity, owner and model are among the target's (unset: any)."""
    if target.severities is not None and alert.severity not in target.severities:
        return False
    if target.owners is not None and (alert.owner or "") not in target.owners:
        return False
    return target.models is None or alert.model in target.models


def retraining_triggers(settings: "Settings", model: str, model_owner: str | None) -> list[str]:
    """"RULE -> TARGET" for each webhook that a schedule or drift rule of ``model`` reaches: how a pipeline
    is triggered to retrain it (the readiness Monitoring area shows them)."""
    from app.alerts.rules import SCHEDULE, drift_feature, rule_key, rule_owner

    config = settings.models.get(model)
    if config is None:
        return []
    found = []
    for rule in config.alerts:
        if rule.metric != SCHEDULE and drift_feature(rule) is None:
            continue
        probe = Alert(rule=rule_key(rule), model=model, severity=rule.severity,
                      owner=rule_owner(rule, model_owner), fired_at=0)
        found += [f"{probe.rule} -> {target.label}" for target in settings.notify
                  if target.kind == "webhook" and routes(target, probe)]
    return found


def _iso(ms: int | None) -> str | None:
    # One format for every time a receiver reads (RFC 3339, milliseconds), as the CLI and exports write them.
    return None if ms is None else ms_to_iso(ms)


def summary(alert: Alert, version: str | None) -> str:
    if alert.value is None and alert.fired_at == alert.resolved_at:  # a schedule rule's notice
        return f"{alert.model if version is None else f'{alert.model} {version}'}: {alert.rule} is due"
    value = "-" if alert.value is None else f"{alert.value:.4g}"
    threshold = "its verdict" if alert.threshold is None else f"{alert.threshold:.4g}"
    where = alert.model if version is None else f"{alert.model} {version}"
    return f"{where}: {alert.rule} is {value} (threshold {threshold})"


def alertmanager_body(alert: Alert, event: str, version: str | None, now: int) -> list[dict[str, Any]]:
    """Alertmanager API v2 ``POST /api/v2/alerts``: a list of postable alerts. Resolved: endsAt in the past."""
    labels = {"alertname": alert.rule, "model": alert.model, "version": version or "", "severity": alert.severity,
              "owner": alert.owner or ""}
    annotations = {"summary": summary(alert, version)}
    if alert.runbook:
        annotations["runbook_url"] = alert.runbook
    item: dict[str, Any] = {"labels": {k: v for k, v in labels.items() if v}, "annotations": annotations,
                            "startsAt": _iso(alert.fired_at)}
    if event == "resolved":
        item["endsAt"] = _iso(alert.resolved_at or now)
    return [item]


def webhook_body(alert: Alert, event: str, version: str | None, delivery_id: int, now: int) -> dict[str, Any]:
    """The documented webhook body (README, "Alert delivery"). Times are RFC 3339 UTC."""
    return {
        "schema": WEBHOOK_BODY_VERSION,
        "delivery_id": delivery_id,
        "event": event,
        "sent_at": _iso(now),
        "alert": {"id": alert.id, "rule": alert.rule, "model": alert.model, "version": version,
                  "severity": alert.severity, "owner": alert.owner, "value": alert.value,
                  "threshold": alert.threshold, "fired_at": _iso(alert.fired_at),
                  "resolved_at": _iso(alert.resolved_at), "runbook_url": alert.runbook,
                  "summary": summary(alert, version)},
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads <...> as links and mentions: untrusted names must stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(alert: Alert, event: str, version: str | None) -> dict[str, Any]:
    mark = {"resolved": "RESOLVED", "schedule": "SCHEDULED"}.get(event, alert.severity.upper())
    lines = [f"[{mark}] {_slack_escape(summary(alert, version))}",
             f"owner: {_slack_escape(alert.owner or 'NO OWNER')}"]
    if alert.runbook:
        lines.append(f"runbook: {_slack_escape(alert.runbook)}")
    return {"text": "\n".join(lines)}


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the shared secret (as GitHub signs)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_for(target: "NotifyConfig", alert: Alert, event: str, version: str | None, delivery_id: int,
                now: int) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of one delivery. Secrets are read from the environment here, never stored."""
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(delivery_id), **target.headers}
    url = target.url
    if target.kind == "alertmanager":
        url = target.url.rstrip("/") + "/api/v2/alerts"
        payload: Any = alertmanager_body(alert, event, version, now)
    elif target.kind == "slack":
        payload = slack_body(alert, event, version)
    else:
        payload = webhook_body(alert, event, version, delivery_id, now)
        if target.wrap == "airflow":  # Airflow REST API: POST /api/v1/dags/{dag_id}/dagRuns
            payload = {"dag_run_id": f"modeldeck-{delivery_id}", "conf": payload}
        elif target.wrap == "github_dispatch":  # GitHub: POST /repos/{owner}/{repo}/dispatches
            payload = {"event_type": f"modeldeck-{event}", "client_payload": payload}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    if target.token_env:
        token = os.environ.get(target.token_env)
        if not token:
            raise DeliveryError(f"${target.token_env} is not set")
        headers["Authorization"] = f"Bearer {token}"
    if target.secret_env:
        secret = os.environ.get(target.secret_env)
        if not secret:
            raise DeliveryError(f"${target.secret_env} is not set: not sending unsigned")
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return url, body, headers


@dataclass
class NotifyPass:
    queued: int = 0
    delivered: int = 0
    failed: int = 0  # attempts that failed this pass (retried later or given up)
    dropped: int = 0
    refreshed: int = 0
    lines: list[str] = field(default_factory=list)  # one line per outcome, for the log


class Notifier:
    """Delivers alerts to the configured targets; one ``run`` per watch pass (blocking, bounded)."""

    def __init__(self, settings: "Settings", client: "httpx.Client | None" = None) -> None:
        import httpx

        self.targets = {target.label: target for target in settings.notify}
        self.queue_max = settings.watch.queue_max
        from app.alerts.rules import schedule_rules

        self._schedules = schedule_rules(settings)
        self._client = client or httpx.Client(follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def run(self, store: "Store", now: int, *, version_of: Callable[[str], str | None] | None = None) -> NotifyPass:
        result = NotifyPass()
        if not self.targets:
            return result
        version_of = version_of or store.predictions.latest_version
        versions: dict[str, str | None] = {}

        def version(model: str) -> str | None:
            if model not in versions:
                versions[model] = version_of(model)
            return versions[model]

        with store.write():
            result.queued = self._queue(store, now)
            result.dropped += store.deliveries.drop_oldest_beyond(self.queue_max, "queue full")
        due = store.deliveries.due(now, MAX_SENDS_PER_PASS)
        alerts = store.alerts.by_ids(sorted({d.alert_id for d in due}))
        for delivery in due:
            self._attempt(store, delivery, alerts.get(delivery.alert_id), version, now, result)
        self._refresh(store, version, now, result)
        return result

    def _queue(self, store: "Store", now: int) -> int:
        queued = 0
        for alert in store.alerts.firing():
            if alert.acked_by is not None:
                continue  # acknowledged: somebody has it; nothing new goes out for this firing
            for label, target in self.targets.items():
                if routes(target, alert) and store.deliveries.enqueue(alert.id, alert.model, label, "firing", now):
                    queued += 1
        scheduled = self._schedules
        if scheduled:  # schedule notices (stored fired and resolved at once) go out once each
            for alert in store.alerts.resolved_since(now - SCHEDULE_LOOKBACK_MS):
                if (alert.model, alert.rule) not in scheduled:
                    continue
                for label, target in self.targets.items():
                    if target.kind != "alertmanager" and routes(target, alert) and \
                            store.deliveries.enqueue(alert.id, alert.model, label, "schedule", now):
                        queued += 1
        for alert_id, model, label in store.deliveries.resolved_owed():
            target = self.targets.get(label)
            if target is not None and target.send_resolved:
                queued += store.deliveries.enqueue(alert_id, model, label, "resolved", now)
        return queued

    def _attempt(self, store: "Store", delivery: "Delivery", alert: Alert | None,
                 version: Callable[[str], str | None], now: int, result: NotifyPass) -> None:
        target = self.targets.get(delivery.target)
        if target is None or alert is None:
            with store.write():
                store.deliveries.mark_final(delivery.id, "dropped", "target no longer configured"
                                            if target is None else "alert no longer stored")
            result.dropped += 1
            return
        if delivery.event == "firing" and alert.acked_by is not None:
            with store.write():
                store.deliveries.mark_final(delivery.id, "dropped", f"acknowledged by {alert.acked_by}")
            result.dropped += 1
            return
        with store.write():  # committed before the request: a crash during it resends once, same id
            store.deliveries.mark_sending(delivery.id, now)
        try:
            self._send(target, alert, delivery.event, version(alert.model), delivery.id, now)
        except DeliveryError as exc:
            attempts = delivery.attempts + 1
            with store.write():
                if attempts >= target.max_attempts:
                    store.deliveries.mark_final(delivery.id, "failed", str(exc))
                else:
                    wait_ms = int(target.backoff_s * 1000 * 2 ** (attempts - 1))
                    store.deliveries.mark_retry(delivery.id, str(exc), now + wait_ms)
            result.failed += 1
            result.lines.append(f"delivery #{delivery.id} {delivery.event} {alert.model} {alert.rule} -> "
                                f"{delivery.target} failed (attempt {attempts}/{target.max_attempts}): {exc}")
            return
        with store.write():
            store.deliveries.mark_delivered(delivery.id, now)
        result.delivered += 1
        result.lines.append(f"delivered #{delivery.id} {delivery.event} {alert.model} {alert.rule} "
                            f"({alert.severity}, owner {alert.owner or 'NO OWNER'}) -> {delivery.target}")

    def _refresh(self, store: "Store", version: Callable[[str], str | None], now: int, result: NotifyPass) -> None:
        for label, target in self.targets.items():
            if target.kind != "alertmanager":
                continue
            stale = store.deliveries.to_refresh(label, now - int(target.repeat_s * 1000))
            alerts = store.alerts.by_ids([d.alert_id for d in stale])
            for delivery in stale:
                alert = alerts.get(delivery.alert_id)
                if alert is None or alert.state != "firing" or alert.acked_by is not None:
                    continue
                try:
                    self._send(target, alert, "firing", version(alert.model), delivery.id, now)
                except DeliveryError:
                    continue  # the next pass tries again; the first notice was delivered
                with store.write():
                    store.deliveries.mark_refreshed(delivery.id, now)
                result.refreshed += 1

    def _send(self, target: "NotifyConfig", alert: Alert, event: str, version: str | None, delivery_id: int,
              now: int) -> None:
        import httpx

        url, body, headers = request_for(target, alert, event, version, delivery_id, now)
        try:
            response = self._client.post(url, content=body, headers=headers, timeout=target.timeout_s)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:200]) from None
        if target.wrap == "airflow" and response.status_code == 409:
            return  # that dag_run_id exists: this delivery triggered it already (a resend after a crash)
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code}: {response.text[:120]!r}")
