"""Prometheus metrics of one app instance (its own CollectorRegistry, so several apps in
one process, as in tests, keep separate counts)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("lmrec.serving")

# Latency buckets in seconds, dense below 50 ms where a recommendation should land.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lmrec_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lmrec_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.events_ingested = Counter(
            "lmrec_events_ingested",
            "New events stored (duplicates excluded)",
            registry=self.registry,
        )
        self.recommendations = Counter(
            "lmrec_recommendations_served",
            "Recommendation lists served by model",
            ["model", "version", "cold_start"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def add_state_collector(self, read: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(_StateCollector(read))


class _StateCollector(Collector):
    """Gauges read at scrape time: live models, catalogue size, click-through rate."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        try:
            state = self.read()
        except Exception:  # a scrape must not fail because the store is briefly away
            log.exception("cannot read service state for /metrics")
            return
        info = InfoMetricFamily("lmrec_model", "Live model versions", labels=["name"])
        items = GaugeMetricFamily(
            "lmrec_catalogue_items", "Items a live model can recommend", labels=["name"]
        )
        for m in state["models"]:
            info.add_metric([m["name"]], {"version": m["version"], "model": m["model"]})
            items.add_metric([m["name"]], m["n_items"])
        yield info
        yield items
        in_sync = GaugeMetricFamily(
            "lmrec_model_in_sync",
            "1 when this server serves the live version the registry names, else 0",
            labels=["name"],
        )
        for name, sync in state["sync"].items():
            in_sync.add_metric([name], float(sync["served"] == sync["registry"]))
        yield in_sync
        failed = GaugeMetricFamily(
            "lmrec_model_load_failed",
            "1 for the registry's live version of a name that did not load here (retried)",
            labels=["name", "version"],
        )
        for name, version in state["load_failures"].items():
            failed.add_metric([name, version], 1.0)
        yield failed
        if "impressions" not in state:
            return  # the event store did not answer
        yield GaugeMetricFamily(
            "lmrec_catalogue_stored_items",
            "Items added through POST /v1/items",
            value=state["stored_items"],
        )
        yield GaugeMetricFamily(
            "lmrec_served_impressions",
            "Items shown in served recommendations",
            value=state["impressions"],
        )
        yield GaugeMetricFamily(
            "lmrec_served_clicks",
            "Clicks on items of served recommendations",
            value=state["clicks"],
        )
        ctr = state["clicks"] / state["impressions"] if state["impressions"] else 0.0
        yield GaugeMetricFamily(
            "lmrec_click_through_rate",
            "Clicks per shown item, from events whose request_id names a served list",
            value=ctr,
        )
        yield from _arm_gauges(state.get("arms", {}))


def _arm_gauges(arms: dict[str, tuple[int, int]]) -> Iterator[GaugeMetricFamily]:
    """Per A/B arm: items shown, clicks on them (joined by request id) and their ratio."""
    if not arms:
        return
    shown = GaugeMetricFamily(
        "lmrec_ab_impressions", "Items shown to an A/B arm's users", labels=["arm"]
    )
    clicks = GaugeMetricFamily(
        "lmrec_ab_clicks", "Clicks on items shown to an A/B arm's users", labels=["arm"]
    )
    rate = GaugeMetricFamily(
        "lmrec_ab_click_through_rate", "Clicks per shown item, per A/B arm", labels=["arm"]
    )
    for arm, (n, c) in arms.items():
        shown.add_metric([arm], n)
        clicks.add_metric([arm], c)
        rate.add_metric([arm], c / n if n else 0.0)
    yield shown
    yield clicks
    yield rate
