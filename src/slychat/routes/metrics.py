"""/metrics: Prometheus series read, at scrape time, from the counts the workers keep.

Each app has its own registry (several apps in one process do not clash), holding one
collector that reads plain attributes (`domain/stats.py`): nothing on the hot path takes a
lock or allocates. Labels are bounded: namespaces, known event names ("unknown" for any
other), and three outcomes; never a user.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from slychat.container import Container
from slychat.domain.stats import Buckets
from slychat.logs.outages import Outage
from slychat.moderation.rules import Action
from slychat.moderation.spans import Kind
from slychat.sockets.base import OUTCOMES, Namespace


def registry_for(container: Container, namespaces: Sequence[Namespace]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SlychatCollector(container, namespaces))
    return registry


class SlychatCollector(Collector):
    def __init__(self, container: Container, namespaces: Sequence[Namespace]) -> None:
        self.container = container
        self.namespaces = namespaces

    def collect(self) -> Iterator[Metric]:
        container = self.container
        yield _counter(
            "slychat_fanout_publish_failures",
            "Fan-out messages dropped because Redis did not take the publish.",
            getattr(container.fanout, "publish_failures", 0),
        )
        yield _counter(
            "slychat_registry_failures",
            "Presence registry operations that failed because Redis did not answer.",
            getattr(container.registry, "failures", 0),
        )
        yield _counter(
            "slychat_ratelimit_failures",
            "Rate checks allowed unchecked because the limiter's Redis did not answer.",
            getattr(container.limits.limiter, "failures", 0),
        )
        yield _counter(
            "slychat_rate_limited", "Actions refused by a rate limit.", container.limits.refused
        )

        sockets = GaugeMetricFamily(
            "slychat_open_sockets", "Sockets connected, per namespace.", labels=["namespace"]
        )
        users = GaugeMetricFamily(
            "slychat_connected_users",
            "Distinct users with a socket, per namespace.",
            labels=["namespace"],
        )
        events = CounterMetricFamily(
            "slychat_events",
            "Client events handled, per namespace, event and outcome.",
            labels=["namespace", "event", "outcome"],
        )
        for ns in self.namespaces:
            sessions = list(ns.sessions.values())
            sockets.add_metric([ns.namespace], len(sessions))
            users.add_metric([ns.namespace], len({s.user for s in sessions}))
            for event, counts in ns.outcomes.items():
                for outcome, n in zip(OUTCOMES, counts, strict=True):
                    events.add_metric([ns.namespace, event, outcome], n)
        yield sockets
        yield users
        yield events
        if self.namespaces:
            # What the caps count: a connection with no namespace open is one too.
            engine = self.namespaces[0].server.eio
            yield GaugeMetricFamily(
                "slychat_open_connections",
                "Engine.IO connections open in this process, with or without a namespace.",
                value=sum(1 for s in list(engine.sockets.values()) if not s.closed),
            )
        yield _counter(
            "slychat_catch_up_pages",
            "syncMessages pages pushed to sockets after the fan-out between nodes broke.",
            sum(_int(ns, "catch_up_pages") for ns in self.namespaces),
        )
        down = GaugeMetricFamily(
            "slychat_dependency_down",
            "1 while a dependency is away (its outage logged once), else 0.",
            labels=["dependency"],
        )
        outages = {
            "database": container.db.outage,
            "redis": getattr(container.registry, "outage", None),
            "fanout": container.fanout.outage,
        }
        for dependency, outage in outages.items():
            if isinstance(outage, Outage):
                down.add_metric([dependency], 1 if outage.down else 0)
        yield down

        detections = CounterMetricFamily(
            "slychat_contact_detections",
            "Contact details found in what users wrote, per kind and action (masked, refused).",
            labels=["kind", "action"],
        )
        # Every (kind, action) from the start, at 0: a fixed set of series that a rate()
        # can read before the first detection.
        counted = container.messages.text_rules.detections
        for kind in Kind:
            for action in ("masked", "refused"):
                detections.add_metric([kind.value, action], counted[(kind.value, action)])
        yield detections

        matches = CounterMetricFamily(
            "slychat_moderation_rule_matches",
            "Moderation rules that matched what users wrote (each rule once per text), per "
            "action (mask, refuse, flag).",
            labels=["action"],
        )
        rule_matches = container.messages.text_rules.rule_matches
        for action in Action:  # every action from the start, at 0 (as detections)
            matches.add_metric([action.value], rule_matches[action.value])
        yield matches

        writer = container.messages.writer
        yield _counter("slychat_messages_stored", "Messages committed.", writer.committed)
        yield _histogram(
            "slychat_send_commit_seconds",
            "Seconds from a message being queued for storage to its commit.",
            writer.latency,
        )
        yield _histogram(
            "slychat_group_commit_batch_size",
            "Messages per group-commit transaction.",
            writer.batch_sizes,
        )
        yield _counter(
            "slychat_emits",
            "Events emitted to this process's sockets.",
            _int(container.fanout, "emits"),
        )
        yield _counter(
            "slychat_emit_recipients",
            "Sockets of this process that emitted events were written to.",
            _int(container.fanout, "recipients"),
        )
        yield _counter(
            "slychat_media_stored_bytes",
            "Bytes of media put in the store.",
            container.media.stored_bytes,
        )
        pool: Any = container.db.engine.pool
        if hasattr(pool, "checkedout"):
            yield GaugeMetricFamily(
                "slychat_db_pool_in_use",
                "Database connections checked out of the pool.",
                value=pool.checkedout(),
            )
            yield GaugeMetricFamily(
                "slychat_db_pool_size", "Database connections the pool keeps.", value=pool.size()
            )
        yield GaugeMetricFamily(
            "slychat_db_pool_waiting",
            "Callers waiting for a database connection.",
            value=container.db.waiting,
        )
        # Webhooks: zeros when SLYCHAT_WEBHOOK_URL is unset, so dashboards need no guard.
        hooks = container.webhooks
        yield GaugeMetricFamily(
            "slychat_webhook_backlog",
            "Webhooks waiting to be delivered (counted every few seconds).",
            value=hooks.backlog if hooks else 0,
        )
        yield _counter(
            "slychat_webhook_failures",
            "Webhook calls that failed (non-2xx, timeout, connection error).",
            hooks.failures if hooks else 0,
        )
        yield _counter(
            "slychat_webhooks_delivered", "Webhooks delivered.", hooks.delivered if hooks else 0
        )
        yield _counter(
            "slychat_webhooks_given_up",
            "Webhooks given up after SLYCHAT_WEBHOOK_RETRY_FOR.",
            hooks.given_up if hooks else 0,
        )


def _int(obj: object, name: str) -> int:
    value = getattr(obj, name, 0)
    return value if isinstance(value, int) else 0


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _histogram(name: str, doc: str, buckets: Buckets) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        name,
        doc,
        buckets=[(_le(bound), n) for bound, n in buckets.cumulative()],
        sum_value=buckets.sum,
    )


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))
