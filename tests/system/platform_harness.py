"""The five real services in-process on their own PostgreSQL databases, run
on an event loop in a background thread so that hypothesis (synchronous) can
call them with plain blocking gRPC stubs.

No broker here on purpose: the fuzz test compares a service's tables before
and after each refused call, and consumers applying events in the background
would change them. Events are instead delivered by hand, from each service's
outbox to the other services' real consumer handlers (the exact functions the
Kafka consumer runs), with `deliver_events()`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import secrets
import threading
import uuid
from dataclasses import dataclass, field

import grpc
from sqlalchemy import create_engine, select

from kinora.runtime.auth import mint_service_token
from kinora.runtime.settings import load_settings
from kinora.stack.tansu import free_port
from kinora.testing import bearer, temporary_database

SECRET = secrets.token_urlsafe(32)
SERVICES = ("identity", "billing", "cameo", "feed", "generator")


@dataclass
class Running:
    addr: dict[str, str]
    db_url: dict[str, str]
    contexts: dict = field(default_factory=dict)  # name -> ServiceContext
    domain: dict = field(default_factory=dict)  # billing -> Billing, feed -> Feed
    handler_maps: dict = field(default_factory=dict)  # name -> {message class: handler}
    engines: dict = field(default_factory=dict)
    delivered: set = field(default_factory=set)
    loop: object = None  # the event loop the services run on

    def channel(self, name: str) -> grpc.Channel:
        return grpc.insecure_channel(
            self.addr[name],
            options=[("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)],
        )

    def service_md(self, name: str = "gateway"):
        return bearer(mint_service_token(name, SECRET)[0])

    def deliver_events(self) -> int:
        """Apply every new outbox event to the services that consume it,
        through their real handlers, in one transaction per event."""
        count = 0
        for source in SERVICES:
            ctx = self.contexts[source]
            outbox = ctx.tables.outbox
            with ctx.engine.connect() as c:
                rows = c.execute(
                    select(outbox.c.event_id, outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id)
                ).all()
            for event_id, event_type, payload in rows:
                if event_id in self.delivered:
                    continue
                self.delivered.add(event_id)
                for target, handlers in self.handler_maps.items():
                    for cls, handler in handlers.items():
                        if cls.DESCRIPTOR.full_name == event_type:
                            with self.contexts[target].sessions.begin() as s:
                                handler(s, cls.FromString(payload), None)
                            count += 1
        return count


_DROPPER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-databases")


async def _start(stack: contextlib.AsyncExitStack, tmp_path, tls: dict | None = None) -> Running:
    """`tls`: service name -> kinora.runtime.pki.TlsFiles to run each service with mutual TLS
    (one process here, so outgoing calls all present the certificate of the last service started)."""
    from services.billing.handlers import make_handlers as billing_handlers
    from services.billing.server import build_service as build_billing
    from services.billing.settings import BillingSettings
    from services.cameo.server import build_context as build_cameo
    from services.cameo.server import consumed_events as cameo_events
    from services.cameo.settings import CameoSettings
    from services.feed.server import build_context as build_feed
    from services.feed.server import consumed_events as feed_events
    from services.feed.settings import FeedSettings
    from services.generator.server import build as build_generator
    from services.generator.settings import GeneratorSettings
    from services.identity.server import assemble as build_identity
    from services.identity.settings import IdentitySettings

    ports = {name: free_port() for name in SERVICES}
    addr = {name: f"127.0.0.1:{p}" for name, p in ports.items()}
    common = {
        "KINORA_GRPC_HOST": "127.0.0.1",
        "KINORA_INTERNAL_SECRET": SECRET,
        "KINORA_IDENTITY_ADDR": addr["identity"],
        "KINORA_CAMEO_ADDR": addr["cameo"],
        "KINORA_BILLING_ADDR": addr["billing"],
        "KINORA_GRACE_SECONDS": "0.5",
        "KINORA_BLOB_DIR": str(tmp_path / "blobs"),
    }
    databases = contextlib.ExitStack()
    # Dropped last (after every service has stopped), on a thread the interpreter waits for at exit:
    # DROP DATABASE takes seconds on a busy server, and nothing after the run needs them gone sooner.
    stack.callback(_DROPPER.submit, databases.close)
    urls = {name: databases.enter_context(temporary_database(f"sys{name[:3]}")) for name in SERVICES}
    running = Running(addr, urls)

    def env(name, **extra):
        return {
            **common,
            "KINORA_GRPC_PORT": str(ports[name]),
            "KINORA_DATABASE_URL": urls[name],
            **(tls[name].env() if tls else {}),
            **extra,
        }

    identity = build_identity(
        load_settings(
            IdentitySettings,
            env(
                "identity", KINORA_ARGON2_TIME_COST="1", KINORA_ARGON2_MEMORY_KIB="1024", KINORA_SERVICE_INVITES="true"
            ),
        )
    )
    running.contexts["identity"] = identity.ctx
    billing = build_billing(
        load_settings(
            BillingSettings,
            env("billing", KINORA_BILLING_DEV_PAYMENTS="true", KINORA_BILLING_TEST_PROVIDER_SECRET="system-tests"),
        )
    )
    running.contexts["billing"], running.domain["billing"] = billing.ctx, billing.billing
    running.handler_maps["billing"] = billing_handlers(billing.billing)
    cameo = build_cameo(load_settings(CameoSettings, env("cameo")))
    running.contexts["cameo"] = cameo
    running.handler_maps["cameo"] = cameo_events()
    feed_ctx, feed = build_feed(load_settings(FeedSettings, env("feed")))
    running.contexts["feed"], running.domain["feed"] = feed_ctx, feed
    running.handler_maps["feed"] = feed_events(feed)
    for ctx in (identity.ctx, billing.ctx, cameo, feed_ctx):
        await ctx.app.start()
        stack.push_async_callback(ctx.app.stop)
    # The generator's maintenance round (demand events into the outbox) runs once at start and then
    # not again during the run: the fuzz test compares table contents around each refused call.
    gen_settings = load_settings(
        GeneratorSettings,
        env(
            "generator",
            KINORA_DATA_DIR=str(tmp_path / "gen"),
            KINORA_BLOB_DIR=str(tmp_path / "gen-blobs"),
            KINORA_DEMAND_INTERVAL_SECONDS="3600",
        ),
    )
    gen_app = await build_generator(gen_settings)
    await gen_app.start()
    stack.push_async_callback(gen_app.stop)
    # The generator's build returns only its app; its tables are reached with its own engine.
    from services.generator.models import tables as gen_tables

    engine = create_engine(urls["generator"].replace("postgresql://", "postgresql+psycopg://"), pool_size=2)
    running.engines["generator"] = engine
    stack.callback(engine.dispose)
    running.contexts["generator"] = _GeneratorView(engine, gen_tables)
    return running


class _GeneratorView:
    """Enough of a ServiceContext (engine, tables, sessions) for deliver_events."""

    def __init__(self, engine, tables):
        from sqlalchemy.orm import sessionmaker

        self.engine, self.tables, self.sessions = engine, tables, sessionmaker(engine)


class PlatformThread:
    """Runs the services on an event loop in a daemon thread."""

    def __init__(self, tmp_path, tls: dict | None = None):
        self.tmp_path, self.tls = tmp_path, tls
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="platform-loop")
        self.stack: contextlib.AsyncExitStack | None = None
        self.running: Running | None = None

    def __enter__(self) -> Running:
        self.thread.start()

        async def start():
            self.stack = contextlib.AsyncExitStack()
            await self.stack.__aenter__()
            try:
                return await _start(self.stack, self.tmp_path, self.tls)
            except BaseException:
                await self.stack.aclose()
                raise

        self.running = asyncio.run_coroutine_threadsafe(start(), self.loop).result(180)
        self.running.loop = self.loop
        return self.running

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.stack.aclose(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# --- table snapshots ---------------------------------------------------------


def table_digests(url: str) -> dict[str, str]:
    """md5 of every table's full contents (catches inserts, updates, deletes)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
            )
        ]
        parts = " UNION ALL ".join(
            f"SELECT '{n}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{n}\" t" for n in names
        )
        return dict(conn.execute(parts).fetchall()) if names else {}


# --- principals ----------------------------------------------------------------


@dataclass
class Principals:
    owner: dict
    other: dict
    teen: dict
    guardian: dict
    apikey_token: str
    service_token: str
    api_key_id: str = ""
    guardian_link_id: str = ""
    cameo_id: str = ""
    generation_id: str = ""
    post_id: str = ""

    def md(self, who: str):
        token = {
            "anonymous": None,
            "other": self.other["token"],
            "owner": self.owner["token"],
            "teen": self.teen["token"],
            "guardian": self.guardian["token"],
            "apikey": self.apikey_token,
            "service": self.service_token,
        }[who]
        return bearer(token) if token else None


def sign_up(running: Running, handle: str, birthdate: str = "1990-05-01") -> dict:
    from kinora.identity.v1 import identity_pb2 as pb
    from kinora.identity.v1 import identity_pb2_grpc

    with running.channel("identity") as ch:
        stub = identity_pb2_grpc.IdentityServiceStub(ch)
        code = stub.CreateInvite(pb.CreateInviteRequest(), metadata=running.service_md("admin"), timeout=10).invite.code
        reply = stub.SignUp(
            pb.SignUpRequest(
                invite_code=code, handle=handle, password="correct horse battery", birthdate=birthdate, region="US"
            ),
            timeout=10,
        )
    return {"id": reply.user.id, "token": reply.tokens.access_token, "handle": handle}


def make_principals(running: Running) -> Principals:
    """Real accounts through identity: an owner (with a cameo, a generation and
    a post), another adult, a teen, the teen's guardian, an API key token for
    the owner and a service token."""
    from datetime import date

    from kinora.common.v1 import common_pb2 as common
    from kinora.feed.v1 import feed_pb2, feed_pb2_grpc
    from kinora.generator.v1 import generator_pb2, generator_pb2_grpc
    from kinora.identity.v1 import events_pb2 as id_ev
    from kinora.identity.v1 import identity_pb2 as pb
    from kinora.identity.v1 import identity_pb2_grpc
    from services.cameo import handlers as cameo_handlers
    from services.cameo.models import cameos

    tag = uuid.uuid4().hex[:6]
    owner, other, guardian = (sign_up(running, f"{n}{tag}") for n in ("owner", "other", "guardian"))
    teen_born = date.today().replace(year=date.today().year - 15).isoformat()
    teen = sign_up(running, f"teen{tag}", teen_born)
    with running.channel("identity") as ch:
        stub = identity_pb2_grpc.IdentityServiceStub(ch)
        start = stub.StartGuardianLink(
            pb.StartGuardianLinkRequest(role=pb.GUARDIAN_ROLE_GUARDIAN), metadata=bearer(guardian["token"]), timeout=10
        )
        link = stub.ConfirmGuardianLink(
            pb.ConfirmGuardianLinkRequest(code=start.code), metadata=bearer(teen["token"]), timeout=10
        ).link
        created = stub.CreateApiKey(
            pb.CreateApiKeyRequest(
                name="matrix",
                scopes=[
                    "videos:read",
                    "videos:write",
                    "feed:read",
                    "feed:write",
                    "cameos:read",
                    "cameos:write",
                    "billing:read",
                ],
            ),
            metadata=bearer(owner["token"]),
            timeout=10,
        )
        exchanged = stub.ExchangeApiKey(
            pb.ExchangeApiKeyRequest(secret=created.secret), metadata=running.service_md("gateway"), timeout=10
        )
    running.deliver_events()  # users into billing, cameo and feed
    # The owner's cameo, as identity's CameoVerified creates it (liveness capture is tested in tests/identity).
    cameo_ctx = running.contexts["cameo"]
    with cameo_ctx.sessions.begin() as s:
        cameo_handlers.cameo_verified(
            s,
            id_ev.CameoVerified(
                user_id=owner["id"],
                handle=owner["handle"],
                display_name="Owner",
                verification_id=str(uuid.uuid4()),
                owner_age_group=common.AGE_GROUP_ADULT,
                likeness=common.LikenessAssets(
                    face_crops=[common.BlobRef(key=f"faces/{owner['id']}/0.jpg", content_type="image/jpeg")]
                ),
            ),
            None,
        )
        cameo_id = s.execute(select(cameos.c.id).where(cameos.c.owner_user_id == owner["id"])).scalar_one()
    with running.channel("generator") as ch:
        gen = (
            generator_pb2_grpc.GeneratorServiceStub(ch)
            .CreateGeneration(
                generator_pb2.CreateGenerationRequest(
                    prompt="a red ball bounces on a wooden floor", seconds=4, idempotency_key=uuid.uuid4().hex
                ),
                metadata=bearer(owner["token"]),
                timeout=30,
            )
            .generation
        )
    running.deliver_events()
    # The feed learns the generation completed (as the worker's event would tell it) so it can be published.
    from kinora.generator.v1 import events_pb2 as gen_ev
    from services.feed import handlers as feed_handlers

    facts = gen_ev.GenerationFacts(
        generation_id=gen.id, user_id=owner["id"], model="standard", seconds=4, size="720x1280"
    )
    with running.contexts["feed"].sessions.begin() as s:
        feed_handlers.generation_completed(running.domain["feed"])(
            s, gen_ev.GenerationCompleted(facts=facts, prompt="a red ball bounces on a wooden floor"), None
        )
    with running.channel("feed") as ch:
        post = (
            feed_pb2_grpc.FeedServiceStub(ch)
            .PublishPost(
                feed_pb2.PublishPostRequest(
                    generation_id=gen.id, caption="hello", visibility=feed_pb2.VISIBILITY_PUBLIC
                ),
                metadata=bearer(owner["token"]),
                timeout=10,
            )
            .post
        )
    running.deliver_events()
    return Principals(
        owner,
        other,
        teen,
        guardian,
        exchanged.access_token,
        mint_service_token("generator", SECRET)[0],
        api_key_id=created.api_key.id,
        guardian_link_id=link.id,
        cameo_id=cameo_id,
        generation_id=gen.id,
        post_id=post.id,
    )


def grpc_status(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK
