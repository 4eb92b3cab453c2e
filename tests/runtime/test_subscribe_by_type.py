"""Subscribing by event type, end to end on Tansu and PostgreSQL: a service
subscribed after create_service returned (as billing does) gets its topics
created at start from its table, reads both, and dispatches each event to the
handler of its type; a type it has no handler for is recorded and skipped."""

import time
import uuid

from kafka import KafkaAdminClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_events import applied, apply_note, metadata, tables

from kinora.runtime.db import make_engine
from kinora.runtime.events import emit
from kinora.runtime.kafka import make_producer
from kinora.runtime.relay import OutboxRelay
from kinora.runtime.service import create_service
from kinora.runtime.settings import DatabaseSettings
from kinora.runtime.v1.runtime_pb2 import GetInfoRequest, PingRequest, PingResponse
from kinora.stack.tansu import free_port

seen_responses: list[bytes] = []


def apply_response(session, message, meta):
    seen_responses.append(message.payload)


async def test_a_late_subscription_creates_its_topics_and_dispatches_by_type(pg_url, broker):
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    requests, responses = f"t.req.{uuid.uuid4().hex[:8]}", f"t.resp.{uuid.uuid4().hex[:8]}"
    settings = DatabaseSettings(
        database_url=pg_url,
        kafka_bootstrap=[broker.bootstrap],
        consumer_threads=1,
        grpc_host="127.0.0.1",
        grpc_port=free_port(),
        grace_seconds=0.5,
    )
    ctx = create_service(f"s-{uuid.uuid4().hex[:6]}", settings, tables, None)
    ctx.subscribe(
        {PingRequest: apply_note, PingResponse: apply_response}, {requests: (PingRequest,), responses: (PingResponse,)}
    )
    assert [c.topics for c in ctx.consumers] == [[requests, responses]]
    await ctx.app.start()  # creates both topics (neither exists yet) and starts the consumer
    try:
        admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap], client_id="t-admin")
        try:
            assert {requests, responses} <= set(admin.list_topics())
        finally:
            admin.close()
        note = str(uuid.uuid4())
        with Session(engine) as s, s.begin():
            emit(s, tables, requests, GetInfoRequest(), "note", note)  # no handler: skipped
            emit(s, tables, requests, PingRequest(payload=note.encode()), "note", note)
            emit(s, tables, responses, PingResponse(payload=b"pong"), "note", note)
        relay = OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test")
        while relay.publish_batch():
            pass
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with engine.connect() as c:
                done = c.execute(select(func.count()).select_from(applied)).scalar_one()
            if done and seen_responses:
                break
            time.sleep(0.2)
        with engine.connect() as c:
            assert c.execute(select(applied.c.note_id, applied.c.times)).all() == [(note, 1)]
            processed = c.execute(select(func.count()).select_from(tables.processed)).scalar_one()
        assert seen_responses == [b"pong"]
        assert processed == 3  # the skipped event is recorded as processed too
    finally:
        await ctx.app.stop()
        engine.dispose()
