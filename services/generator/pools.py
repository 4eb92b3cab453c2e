"""GPU/model pools for operators: state, queue depth and wait per tier,
generation time percentiles, draining; and the demand figures billing prices on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import events_pb2
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import NotFound
from kinora.runtime.events import EventTables, emit
from services.generator import metrics
from services.generator.domain import now
from services.generator.models import generations, pools, workers
from services.generator.queue import TIER_NAMES
from services.generator.topics import DEMAND_TOPIC
from services.generator.wakeup import notify_job_queued

TIERS = (common_pb2.TIER_PRO, common_pb2.TIER_PAID, common_pb2.TIER_FREE)


@dataclass
class TierStats:
    tier: int
    depth: int = 0
    oldest_wait_seconds: float = 0.0
    p50_wait_seconds: float = 0.0


@dataclass
class PoolStats:
    name: str
    models: list[str]
    state: str = "active"
    drain_reason: str = ""
    instances_ready: int = 0
    instances_total: int = 0
    jobs_running: int = 0
    tiers: list[TierStats] = field(default_factory=list)
    p50_generation_seconds: float = 0.0
    p95_generation_seconds: float = 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class PoolAdmin:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        pool_models: dict[str, list[str]],
        worker_timeout_s: float,
    ):
        self.sessions, self.tables, self.pool_models = sessions, tables, pool_models
        self.worker_timeout = timedelta(seconds=worker_timeout_s)
        self._gauges_seen: set[tuple[int, str]] = set()

    def _require(self, name: str) -> None:
        if name not in self.pool_models:
            raise NotFound(f"no pool named {name!r}; pools are {', '.join(sorted(self.pool_models))}", "pool_not_found")

    def stats(self, name: str, session: Session | None = None) -> PoolStats:
        self._require(name)
        if session is None:
            with self.sessions() as s:
                return self.stats(name, s)
        g = generations.c
        models = self.pool_models[name]
        stamp = now()
        result = PoolStats(name, models)
        pool = session.execute(select(pools).where(pools.c.name == name)).first()
        if pool is not None:
            result.state, result.drain_reason = pool.state, pool.drain_reason
        live = session.execute(select(workers).where(workers.c.pool_name == name)).all()
        ready = [w for w in live if stamp - w.last_seen < self.worker_timeout]
        result.instances_total, result.instances_ready = len(live), len(ready)
        result.jobs_running = session.execute(
            select(func.count()).select_from(generations).where(g.status == "in_progress", g.model.in_(models))
        ).scalar_one()
        if result.state == "draining" and result.jobs_running == 0:
            result.state = "drained"
        recent = stamp - timedelta(hours=1)
        for tier in TIERS:
            depth, oldest = session.execute(
                select(func.count(), func.min(g.created_at)).where(
                    g.status == "queued", g.model.in_(models), g.tier == tier
                )
            ).one()
            waits = [
                (s - c).total_seconds()
                for s, c in session.execute(
                    select(g.started_at, g.created_at)
                    .where(g.model.in_(models), g.tier == tier, g.started_at > recent)
                    .limit(500)
                ).all()
            ]
            result.tiers.append(
                TierStats(tier, depth, (stamp - oldest).total_seconds() if oldest else 0.0, _percentile(waits, 0.5))
            )
        durations = [
            (c - s).total_seconds()
            for s, c in session.execute(
                select(g.started_at, g.completed_at)
                .where(g.model.in_(models), g.status == "completed", g.completed_at > recent)
                .order_by(g.completed_at.desc())
                .limit(500)
            ).all()
        ]
        result.p50_generation_seconds = _percentile(durations, 0.5)
        result.p95_generation_seconds = _percentile(durations, 0.95)
        return result

    def list(self) -> list[PoolStats]:
        with self.sessions() as session:
            return [self.stats(name, session) for name in sorted(self.pool_models)]

    def set_state(self, name: str, state: str, reason: str = "") -> PoolStats:
        self._require(name)
        with transaction(self.sessions) as session:
            values = dict(state=state, drain_reason=reason, updated_at=now())
            if not session.execute(update(pools).where(pools.c.name == name).values(**values)).rowcount:
                session.execute(pools.insert().values(name=name, **values))
            if state == "active":
                notify_job_queued(session)
        return self.stats(name)

    def publish_demand(self) -> list[PoolStats]:
        """Emit DemandChanged per pool (and refresh the queue-depth gauges)."""
        with transaction(self.sessions) as session:
            for (tier, model), depth in self._depths(session).items():
                metrics.QUEUE_DEPTH.labels(TIER_NAMES.get(tier, "free"), model).set(depth)
            all_stats = [self.stats(name, session) for name in sorted(self.pool_models)]
            for stats in all_stats:
                event = events_pb2.DemandChanged(
                    pool_name=stats.name,
                    instances_ready=stats.instances_ready,
                    tiers=[
                        events_pb2.TierDemand(
                            tier=t.tier,
                            queue_depth=t.depth,
                            oldest_wait_seconds=t.oldest_wait_seconds,
                            p50_wait_seconds=t.p50_wait_seconds,
                        )
                        for t in stats.tiers
                    ],
                )
                set_timestamp(event.measured_at, now())
                emit(session, self.tables, DEMAND_TOPIC, event, "pool", stats.name)
        return all_stats

    def _depths(self, session: Session) -> dict[tuple[int, str], int]:
        g = generations.c
        rows = session.execute(
            select(g.tier, g.model, func.count()).where(g.status == "queued").group_by(g.tier, g.model)
        ).all()
        found = {(tier, model): count for tier, model, count in rows}
        # Report zeros too, so an emptied queue shows 0 rather than its last value.
        for key in self._gauges_seen:
            found.setdefault(key, 0)
        self._gauges_seen.update(found)
        return found
