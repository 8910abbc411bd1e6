"""Optional Prometheus metrics and a health check for `b24sync run` (metrics.listen: HOST:PORT).

Counters are read from the daemon at scrape time by one collector, so nothing
else in b24sync knows about Prometheus; prometheus-client is an optional extra.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from b24sync.errors import B24SyncError, Kind, System
from b24sync.logs import get_logger


class MetricsUnavailableError(B24SyncError):
    """'metrics.listen' is set but the metrics extra is not installed."""

    system = System.CONFIG
    kind = Kind.FATAL
    code = "metrics_unavailable"


class Tally:
    """What the daemon counts between scrapes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cycles: Counter[tuple[str, str]] = Counter()
        self.created = 0
        self.updated = 0
        self.failures: Counter[str] = Counter()
        self.last_success: dict[str, float] = {}

    def record(self, job: str, report: Any, finished_at: float) -> None:
        with self.lock:
            result = "ok" if report is not None and report.ok else ("error" if report is None else "failed_items")
            self.cycles[(job, result)] += 1
            if report is not None:
                self.created += report.created
                self.updated += report.updated
                for deal_id in report.failed:
                    self.failures[report.codes.get(deal_id, "error")] += 1
                if report.ok:
                    self.last_success[job] = finished_at


def serve(listen: str, tally: Tally, daemon: Any) -> ThreadingHTTPServer:
    try:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError:
        raise MetricsUnavailableError("'metrics.listen' is set but prometheus-client is not installed: "
                                      "run scripts/install --with-metrics (or pip install prometheus-client into "
                                      "b24sync's venv), or remove 'metrics.listen'") from None

    class Collector:
        def collect(self) -> Any:
            with tally.lock:
                cycles = CounterMetricFamily("b24sync_cycles", "Cycles run, by job and result",
                                             labels=["job", "result"])
                for (job, result), count in tally.cycles.items():
                    cycles.add_metric([job, result], count)
                yield cycles
                yield CounterMetricFamily("b24sync_deals_pushed", "Documents created in 1C for deals",
                                          value=tally.created)
                yield CounterMetricFamily("b24sync_documents_updated", "1C documents updated from deals",
                                          value=tally.updated)
                failures = CounterMetricFamily("b24sync_failures", "Failed deals, by error code", labels=["code"])
                for reason, count in tally.failures.items():
                    failures.add_metric([reason], count)
                yield failures
                last = GaugeMetricFamily("b24sync_last_success_timestamp_seconds",
                                         "When each job last finished without a failure", labels=["job"])
                for job, when in tally.last_success.items():
                    last.add_metric([job], when)
                yield last
            parts = daemon.parts
            if parts is None:
                return
            requests = CounterMetricFamily("b24sync_api_requests", "HTTP requests sent, by system and method",
                                           labels=["system", "method"])
            for method, count in dict(parts.bitrix.client.requests_by_method).items():
                requests.add_metric(["bitrix24", method], count)
            for entity, count in dict(parts.onec.client.requests_by_entity).items():
                requests.add_metric(["onec", entity], count)
            yield requests
            yield CounterMetricFamily("b24sync_throttle_wait_seconds",
                                      "Time spent waiting for the portal's request budget",
                                      value=getattr(parts.bitrix.client.bucket, "waited_seconds", 0.0))

    registry = CollectorRegistry()
    registry.register(Collector())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
            return

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.startswith("/metrics"):
                body, status, kind = generate_latest(registry), 200, "text/plain; version=0.0.4; charset=utf-8"
            elif self.path.startswith("/healthz"):
                status, text = daemon.health()  # a snapshot: never waits for the cycle in hand
                body, kind = text.encode(), "text/plain; charset=utf-8"
            else:
                body, status, kind = b"not found\n", 404, "text/plain; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            # a failing probe or scrape is one JSON event in b24sync's log, not a bare traceback on stderr
            get_logger("b24sync.metrics").exception("metrics_request_failed", client=str(client_address[0]))

    host, _, port = listen.rpartition(":")
    server = Server((host, int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
