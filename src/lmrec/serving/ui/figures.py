"""Live figures for the dashboard, read from the service's own Prometheus metrics.

Counters only grow, so rates and latency quantiles over a recent window come from the
difference of two snapshots. `FigureHistory` keeps the snapshots of the last minute (taken
whenever a page asks), so every viewer sees the same window without a background thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lmrec.serving.metrics import ServiceMetrics

#: routes of the dashboard itself are left out: watching must not change what is watched
_OWN_PREFIXES = ("/ui", "/metrics")


@dataclass(frozen=True)
class RouteCounts:
    """Cumulative request count and latency histogram of one (method, route)."""

    count: float
    #: (upper bound in seconds, cumulative count), ascending, the last bound is +inf
    buckets: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Snapshot:
    at: float
    routes: dict[tuple[str, str], RouteCounts]
    events_ingested: float
    recommendations: float


@dataclass
class FigureHistory:
    """Snapshots of the last `keep_seconds`; the window is from the oldest to now."""

    keep_seconds: float = 60.0
    _snapshots: deque[Snapshot] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self, metrics: ServiceMetrics, state: dict[str, Any]) -> dict[str, Any]:
        now = take_snapshot(metrics)
        with self._lock:
            while self._snapshots and now.at - self._snapshots[0].at > self.keep_seconds:
                self._snapshots.popleft()
            before = self._snapshots[0] if self._snapshots else None
            self._snapshots.append(now)
        return figures_between(before, now, state)


def take_snapshot(metrics: ServiceMetrics) -> Snapshot:
    counts: dict[tuple[str, str], float] = {}
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
    events = served = 0.0
    for family in metrics.registry.collect():
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "lmrec_http_request_duration_seconds_bucket":
                key = (labels["method"], labels["route"])
                buckets.setdefault(key, []).append((float(labels["le"]), sample.value))
            elif sample.name == "lmrec_http_request_duration_seconds_count":
                counts[(labels["method"], labels["route"])] = sample.value
            elif sample.name == "lmrec_events_ingested_total":
                events = sample.value
            elif sample.name == "lmrec_recommendations_served_total":
                served += sample.value
    routes = {
        key: RouteCounts(count, tuple(sorted(buckets.get(key, []))))
        for key, count in counts.items()
        if not key[1].startswith(_OWN_PREFIXES)
    }
    return Snapshot(time.monotonic(), routes, events, served)


def quantile(buckets: tuple[tuple[float, float], ...], q: float) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated linearly inside the bucket
    that holds it (as Prometheus' histogram_quantile does); None without observations. A
    quantile in the +inf bucket is reported as the largest finite bound."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def _minus(now: RouteCounts, before: RouteCounts | None) -> RouteCounts:
    if before is None:
        return now
    old = dict(before.buckets)
    return RouteCounts(
        now.count - before.count,
        tuple((bound, count - old.get(bound, 0.0)) for bound, count in now.buckets),
    )


def figures_between(before: Snapshot | None, now: Snapshot, state: dict[str, Any]) -> dict:
    """What the metrics page shows: per route, requests per second and p50/p99 latency
    (milliseconds) over the window since `before` (since start when there is none), with
    totals since start; events ingested, recommendation lists served and click-through."""
    # a window under a second (two viewers polling at once) would make rates noise
    seconds = max(now.at - before.at, 1.0) if before is not None else 0.0
    rows = []
    total_rate = 0.0
    for (method, route), counts in sorted(now.routes.items(), key=lambda kv: kv[0][1]):
        window = _minus(counts, before.routes.get((method, route)) if before else None)
        if before is None or window.count <= 0:
            window = counts  # nothing new in the window: quantiles since start
        rate = (counts.count - _count(before, method, route)) / seconds if seconds > 0 else 0.0
        total_rate += rate
        p50, p99 = quantile(window.buckets, 0.5), quantile(window.buckets, 0.99)
        rows.append(
            {
                "method": method,
                "route": route,
                "requests": int(counts.count),
                "rps": round(rate, 3),
                "p50_ms": None if p50 is None else round(1000 * p50, 2),
                "p99_ms": None if p99 is None else round(1000 * p99, 2),
            }
        )
    impressions, clicks = state["impressions"], state["clicks"]
    return {
        "window_s": round(seconds, 1),
        "rps": round(total_rate, 3),
        "routes": rows,
        "events_ingested": int(now.events_ingested),
        "recommendations_served": int(now.recommendations),
        "impressions": impressions,
        "clicks": clicks,
        "ctr": clicks / impressions if impressions else 0.0,
        "models": state["models"],
    }


def _count(snapshot: Snapshot | None, method: str, route: str) -> float:
    if snapshot is None:
        return 0.0
    found = snapshot.routes.get((method, route))
    return found.count if found is not None else 0.0
