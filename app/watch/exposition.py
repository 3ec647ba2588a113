"""``/healthz`` and Prometheus ``/metrics`` for ``modeldeck watch``, served from a thread.

The text format is prometheus_client's own exposition (a custom collector over the watcher's last
``Snapshot``): a scrape never touches the store, so it costs the same whatever the store's size.
``/healthz`` answers 200 while passes keep coming (the last one within 3 intervals), else 503.
"""

from __future__ import annotations

import json
import threading
import time
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, CounterMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from app.watch.loop import Snapshot


class WatchCollector(Collector):
    def __init__(self, snapshot: Callable[[], "Snapshot"]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable:
        s = self._snapshot()
        yield GaugeMetricFamily("modeldeck_watch_last_pass_timestamp_seconds", "When the last pass ended (unix time)",
                                value=s.last_pass_at or 0)
        yield GaugeMetricFamily("modeldeck_watch_last_pass_duration_seconds", "How long the last pass took",
                                value=s.last_pass_seconds)
        yield CounterMetricFamily("modeldeck_watch_passes", "Passes done since start", value=s.passes)
        yield CounterMetricFamily("modeldeck_watch_pass_errors", "Pass steps that failed since start",
                                  value=s.pass_errors)
        lag = GaugeMetricFamily("modeldeck_watch_follow_lag_bytes", "Bytes written to a followed file not read yet",
                                labels=["file"])
        for name, value in sorted(s.lag_bytes.items()):
            lag.add_metric([name], value)
        yield lag
        yield CounterMetricFamily("modeldeck_watch_lines_read", "Log lines read from followed files since start",
                                  value=s.lines_read)
        yield CounterMetricFamily("modeldeck_watch_lines_quarantined", "Bad lines quarantined since start",
                                  value=s.quarantined)
        delivered = CounterMetricFamily("modeldeck_notify_delivered", "Alert notifications delivered (store total)",
                                        labels=["target"])
        for target, count in sorted(s.delivered.items()):
            delivered.add_metric([target], count)
        yield delivered
        failed = CounterMetricFamily("modeldeck_notify_failures", "Alert notifications that failed for good or "
                                     "were dropped (store total)", labels=["target"])
        for target, count in sorted(s.delivery_failures.items()):
            failed.add_metric([target], count)
        yield failed
        yield GaugeMetricFamily("modeldeck_notify_queue", "Notifications waiting to be delivered",
                                value=s.delivery_queue)

        drift = GaugeMetricFamily("modeldeck_feature_drift_value", "Drift statistic of the verdict window "
                                  "(method label: wasserstein/jensenshannon distance, or ks/chisquare/z p-value)",
                                  labels=["model", "version", "feature", "method"])
        drifted = GaugeMetricFamily("modeldeck_feature_drift_detected", "1 when the feature drifts in the verdict "
                                    "window", labels=["model", "version", "feature"])
        prediction = GaugeMetricFamily("modeldeck_prediction_drift_value", "Drift statistic of the predictions",
                                       labels=["model", "version", "method"])
        prediction_drifted = GaugeMetricFamily("modeldeck_prediction_drift_detected", "1 when the predictions "
                                               "drift", labels=["model", "version"])
        for f in s.features:
            if f.feature == "__prediction__":
                prediction.add_metric([f.model, f.version, f.method], f.value)
                prediction_drifted.add_metric([f.model, f.version], int(f.drifted))
            else:
                drift.add_metric([f.model, f.version, f.feature, f.method], f.value)
                drifted.add_metric([f.model, f.version, f.feature], int(f.drifted))
        yield from (drift, drifted, prediction, prediction_drifted)

        requests = GaugeMetricFamily("modeldeck_model_requests_last_hour", "Logged predictions in the last hour",
                                     labels=["model", "version"])
        errors = GaugeMetricFamily("modeldeck_model_error_rate", "Share of error answers in the last hour",
                                   labels=["model", "version"])
        p95 = GaugeMetricFamily("modeldeck_model_latency_p95_ms", "p95 latency in the last hour (ms)",
                                labels=["model", "version"])
        for v in s.versions:
            requests.add_metric([v.model, v.version], v.requests)
            if v.error_rate is not None:
                errors.add_metric([v.model, v.version], v.error_rate)
            if v.p95_ms is not None:
                p95.add_metric([v.model, v.version], v.p95_ms)
        yield from (requests, errors, p95)
        firing = GaugeMetricFamily("modeldeck_alerts_firing", "Firing alerts", labels=["model", "severity"])
        for (model, severity), count in sorted(s.firing.items()):
            firing.add_metric([model, severity], count)
        yield firing
        up = GaugeMetricFamily("modeldeck_endpoint_up", "1 when the model's endpoint answered the last poll",
                               labels=["model"])
        for model, value in sorted(s.endpoint_up.items()):
            up.add_metric([model], value)
        yield up


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - scrapes are not news
        pass


class ExpositionServer:
    """``/metrics`` and ``/healthz`` on HOST:PORT in a daemon thread; ``port`` is the bound one."""

    def __init__(self, listen: str, snapshot: Callable[["Snapshot"], None] | Callable[[], "Snapshot"],
                 interval_s: float) -> None:
        host, _, port = listen.rpartition(":")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(WatchCollector(snapshot))  # type: ignore[arg-type]
        metrics = make_wsgi_app(registry)
        started = time.time()

        def app(environ: dict, start_response: Callable) -> list[bytes]:
            path = environ.get("PATH_INFO", "")
            if path == "/healthz":
                s = snapshot()  # type: ignore[call-arg]
                last = s.last_pass_at
                healthy = (last or started) > time.time() - 3 * interval_s - 30
                body = json.dumps({"ok": healthy, "passes": s.passes, "last_pass_at": last,
                                   "last_pass_seconds": round(s.last_pass_seconds, 3),
                                   "lag_bytes": sum(s.lag_bytes.values()),
                                   "delivery_failures": sum(s.delivery_failures.values()),
                                   "delivery_queue": s.delivery_queue}).encode()
                start_response("200 OK" if healthy else "503 Service Unavailable",
                               [("Content-Type", "application/json")])
                return [body]
            if path == "/metrics":
                return metrics(environ, start_response)
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"/metrics or /healthz\n"]

        self._httpd = make_server(host or "127.0.0.1", int(port), app, server_class=_Server, handler_class=_Quiet)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="modeldeck-metrics", daemon=True)

    def start(self) -> "ExpositionServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
