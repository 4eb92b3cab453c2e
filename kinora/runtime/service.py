"""The parts every Kinora service process shares, assembled once:
database engine and migrations, the outbox relay, event consumers, the token
verifier (the caller says where its keys come from) and the gRPC app. A
service's `server.py` builds its domain objects and servicers on top of a
`ServiceContext`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime import auth
from kinora.runtime.clients import TokenSource
from kinora.runtime.consumer import EventConsumer, GroupMembers, Handler
from kinora.runtime.db import make_engine, session_factory
from kinora.runtime.events import EventTables
from kinora.runtime.kafka import ensure_topics, make_producer
from kinora.runtime.migrations import upgrade
from kinora.runtime.relay import OutboxRelay
from kinora.runtime.server import ServiceApp
from kinora.runtime.settings import DatabaseSettings
from kinora.runtime.subscriptions import Subscription, TopicTable, by_event_type


@dataclass
class ServiceContext:
    name: str
    settings: DatabaseSettings
    engine: Engine
    sessions: sessionmaker[Session]
    tables: EventTables
    app: ServiceApp
    verifier: auth.TokenVerifier | None
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    # This process's members of the service's consumer group: they stop together, the leader first.
    members: GroupMembers = field(default_factory=GroupMembers)

    def service_token_source(self) -> TokenSource | None:
        """Credentials for calls made outside any user request."""
        secret = self.settings.internal_secret
        if not secret:
            return None

        async def fetch() -> tuple[str, float]:
            return auth.mint_service_token(self.name, secret)

        return TokenSource(fetch)

    def subscribe(self, handlers: dict[type[Message], Handler], topics: TopicTable) -> None:
        """Consume by event type: `handlers` maps each event type this service reads to its
        handler, `topics` is its table of consumed topics (topic -> event types); the topics
        subscribed to follow from it (kinora.runtime.subscriptions)."""
        self.add_subscription(by_event_type(handlers, topics))

    def add_subscription(self, subscription: Subscription) -> None:
        """Consume the subscription's topics as this service's group with `consumer_threads`
        members: each handles its partitions' batches in its own transaction, so one
        member's database work overlaps another's decoding. Stopping one stops them all, the
        group's leader leaving first (kinora.runtime.consumer.GroupMembers)."""
        bootstrap = self.settings.kafka_bootstrap
        for i in range(self.settings.consumer_threads):
            consumer = EventConsumer(
                self.engine,
                self.tables,
                bootstrap,
                self.name,
                subscription.handlers,
                list(subscription.topics),
                members=self.members,
            )
            self.consumers.append(consumer)
            self.app.add_worker(f"{self.name}-consumer-{i}", consumer.run)

    def warm_up(self, load: Callable[[], object]) -> None:
        """Run `load` (e.g. load an embedding model: seconds of CPU) on a thread
        before the service reports SERVING, so the first request or event that
        needs it does not wait for it."""

        async def run() -> None:
            await asyncio.to_thread(load)

        self.app.on_startup(run)

    def wake_relay(self) -> None:
        """Call after committing events to publish them without waiting for the next poll."""
        if self.relay is not None:
            self.relay.wake.set()


def create_service(
    name: str,
    settings: DatabaseSettings,
    tables: EventTables,
    migrations_dir: Path | None,
    *,
    topics: Sequence[str] = (),
    subscription: Subscription | None = None,
    jwks_fetcher: auth.JwksFetcher | None = None,
    revocation_fetcher: auth.RevocationFetcher | None = None,
    migrate_on_start: bool = True,
    db_pool_size: int = 5,
) -> ServiceContext:
    """`subscription`: the events this service consumes, by type (kinora.runtime.subscriptions.
    by_event_type; or `ctx.subscribe` later, when the handlers need objects built after this).
    `jwks_fetcher`, `revocation_fetcher`: where the token verifier gets its keys and its deny
    list of ended sessions (kinora.identity.tokens.verifier_fetchers asks identity for both).
    `db_pool_size`: connections kept open; size it to the threads that use the database at
    once (request workers, plus the relay and consumers), or a busy server keeps opening and
    closing connections (each new one also loses its prepared statements)."""
    engine = make_engine(settings.database_url, pool_size=db_pool_size)
    fetcher, revoked = jwks_fetcher, revocation_fetcher
    verifier = (
        auth.TokenVerifier(fetcher, internal_secret=settings.internal_secret, fetch_revoked=revoked)
        if fetcher
        else None
    )
    if verifier is None and settings.internal_secret:

        async def no_jwks() -> dict[str, Any]:
            return {"keys": []}

        verifier = auth.TokenVerifier(no_jwks, internal_secret=settings.internal_secret)
    app = ServiceApp(name, settings, verifier)
    ctx = ServiceContext(name, settings, engine, session_factory(engine), tables, app, verifier)
    bootstrap = settings.kafka_bootstrap

    async def prepare() -> None:
        if migrate_on_start and migrations_dir is not None:
            await asyncio.to_thread(upgrade, migrations_dir, settings.database_url)
        if bootstrap:
            # Consumed topics include those of consumers added after create_service returned.
            consumed = {topic: None for c in ctx.consumers for topic in c.topics}
            await asyncio.to_thread(ensure_topics, bootstrap, [*topics, *consumed])
        if verifier is not None and fetcher is not None:
            try:
                await verifier.refresh(force=True)
            except Exception:  # identity may start later; keys are fetched on first use
                pass

    app.on_startup(prepare)
    if bootstrap:
        ctx.relay = OutboxRelay(
            engine,
            tables,
            make_producer(bootstrap, name),
            name,
            bootstrap=bootstrap,
            producer_factory=lambda: make_producer(bootstrap, name),
            retention_s=settings.outbox_retention_s,
        )
        app.add_worker(f"{name}-relay", ctx.relay.run)
        if subscription is not None:
            ctx.add_subscription(subscription)

    async def dispose() -> None:
        engine.dispose()

    app.on_shutdown(dispose)
    return ctx
