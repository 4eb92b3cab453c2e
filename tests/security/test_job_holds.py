"""A queued job never runs free (issue 20, part 6).

Before: billing's hold on a generation lapsed after KINORA_BILLING_HOLD_TTL_SECONDS (its sweep
expires it, giving the allowance back), and a free job that waited longer in the queue was still
made: the capture then found the hold expired, so the clip was uncharged. Now the generator
renews the holds of waiting jobs (billing's ExtendReservation) before they lapse, and a job whose
hold is gone fails with `hold_expired`, is not made and charges nothing.

Real parts throughout: the billing service over gRPC (its own database and hold sweep), the
generator API and a worker on a real Triton serving worldsim. Holds last seconds here, not an
hour, so the waits are real."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import billing_pb2_grpc
from kinora.generator.v1 import generator_pb2 as pb
from kinora.runtime.auth import mint_service_token
from kinora.runtime.clients import TokenSource
from kinora.runtime.errors import FailedPrecondition, NotFound
from kinora.stack.tansu import free_port
from kinora.testing import bearer, temporary_database
from services.billing.models import reservations
from services.billing.server import build_service
from services.generator.models import generations
from services.generator.remote import GrpcBilling

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "billing"))
sys.path.insert(0, str(TESTS / "generator"))
from billing_support import make_settings, open_users  # noqa: E402
from generator_harness import TritonHarness, generator_settings, running_api, running_worker  # noqa: E402

SECRET = "job-holds-test-internal-secret-0123456789"
HOLD_TTL_S = 4
USER = "u-waiter"


@pytest.fixture(scope="module")
def triton():
    with TritonHarness() as harness:
        yield harness


@pytest.fixture
async def billing():
    with temporary_database("kt_billing") as url:
        settings = make_settings(
            url,
            grpc_host="127.0.0.1",
            grpc_port=free_port(),
            internal_secret=SECRET,
            hold_ttl_seconds=HOLD_TTL_S,
            sweep_interval_seconds=0.3,
        )
        svc = build_service(settings, deliver_test_webhooks=False)
        await svc.ctx.app.start()
        open_users(svc.billing, USER)
        yield svc
        await svc.ctx.app.stop()


def generator_billing(billing) -> GrpcBilling:
    async def fetch():
        return mint_service_token("generator", SECRET)

    return GrpcBilling(f"127.0.0.1:{billing.ctx.app.port}", TokenSource(fetch))


async def reservation(billing, generation_id: str):
    """Billing's reservation row and the user's ledger entries."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{billing.ctx.app.port}") as ch:
        stub = billing_pb2_grpc.BillingServiceStub(ch)
        statement = await stub.GetStatement(
            bpb.GetStatementRequest(user_id=USER), metadata=bearer(mint_service_token("generator", SECRET)[0])
        )
    with billing.ctx.sessions() as s:
        row = s.execute(select(reservations).where(reservations.c.generation_id == generation_id)).one()
    return row, statement.entries


async def finished(api, generation_id: str, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while True:
        with api.app.context.sessions() as s:
            row = s.execute(select(generations).where(generations.c.id == generation_id)).one()
        if (
            row.status in ("completed", "failed", "canceled") and not row.billing_state.endswith("_pending")
        ) or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.2)


async def create(api, key: str) -> str:
    reply = await api.stub.CreateGeneration(
        pb.CreateGenerationRequest(
            prompt="a red ball bounces on a wooden floor", seconds=4, size="720x1280", seed=7, idempotency_key=key
        ),
        metadata=api.auth(USER, "waiter"),
    )
    return reply.generation.id


async def test_a_job_queued_longer_than_its_hold_is_still_charged(pg_url, tmp_path, triton, billing):
    settings = generator_settings(
        pg_url,
        tmp_path,
        triton_addr=triton.grpc_address,
        demand_interval_seconds=0.3,
        hold_renew_margin_seconds=HOLD_TTL_S / 2,
    )
    async with running_api(settings, None, billing=generator_billing(billing)) as api:
        gid = await create(api, "waits-long")
        # No worker yet: the job waits in the queue for more than twice its hold, with billing's sweep running.
        await asyncio.sleep(HOLD_TTL_S * 2.5)
        held, _ = await reservation(billing, gid)
        assert held.status == "held", "the waiting job's hold lapsed"
        async with running_worker(
            dataclasses.replace(settings, worker_slots=1), api.app.context.sessions, api.app.billing
        ):
            row = await finished(api, gid)
    assert row.status == "completed", row.error_message
    assert row.billing_state == "captured"
    settled, entries = await reservation(billing, gid)
    assert settled.status == "captured"
    assert any(e.kind == bpb.LEDGER_ENTRY_KIND_CAPTURE and e.generation_id == gid for e in entries)


async def test_a_job_whose_hold_is_gone_is_refused_not_run_free(pg_url, tmp_path, triton, billing):
    # The generator was away for longer than the hold (margin 0: nothing renews in time).
    settings = generator_settings(
        pg_url, tmp_path, triton_addr=triton.grpc_address, demand_interval_seconds=60, hold_renew_margin_seconds=0
    )
    async with running_api(settings, None, billing=generator_billing(billing)) as api:
        gid = await create(api, "hold-lapses")
        await asyncio.sleep(HOLD_TTL_S + 1.0)  # billing's sweep expires the hold
        expired, _ = await reservation(billing, gid)
        assert expired.status == "expired"
        async with running_worker(
            dataclasses.replace(settings, worker_slots=1), api.app.context.sessions, api.app.billing
        ):
            row = await finished(api, gid)
        assert row.status == "failed" and row.error_code == "hold_expired", (row.status, row.error_code)
        assert "nothing was charged" in row.error_message
        assert row.media == "[]" and row.billing_state == "hold_lost"
        got = await api.stub.GetGeneration(
            pb.GetGenerationRequest(generation_id=gid), metadata=api.auth(USER, "waiter")
        )
        assert got.generation.error.code == "hold_expired"
    settled, entries = await reservation(billing, gid)
    assert settled.status == "expired" and settled.settled_at is not None
    assert not any(e.kind == bpb.LEDGER_ENTRY_KIND_CAPTURE for e in entries)


async def test_billing_never_revives_a_hold(billing):
    stub_billing = generator_billing(billing)
    held = await stub_billing.reserve("gen_revive", USER, "standard", 4, "720x1280")
    renewed = await stub_billing.extend("gen_revive")
    assert renewed >= held.expires_at
    await asyncio.sleep(HOLD_TTL_S + 0.5)
    with pytest.raises(FailedPrecondition, match="already expired"):
        await stub_billing.extend("gen_revive")
    with pytest.raises(NotFound, match="no reservation"):
        await stub_billing.extend("gen_never_reserved")
    row, _ = await reservation(billing, "gen_revive")
    assert row.status == "expired"
