"""One leaked service cannot act as another (issue 20, part 2).

Before: every service-to-service call carried an HS256 token signed with the one internal
secret all services share, so whoever held the secret could mint `service:generator` and
reserve, capture or release anyone's credits. Now, with mutual TLS on, a server believes a
`service:<name>` token only over a connection whose client certificate names that same
service (spiffe://kinora/<name>), and a user's token only from the gateway (or feed, which
re-checks consent with the publishing user's token).

Real parts: services started over TLS (real gRPC servers, their own PostgreSQL databases)
with certificates made by the same CA helper `kinora up` uses (kinora.runtime.pki)."""

from __future__ import annotations

import ast
import asyncio
import socket
import ssl
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import billing_pb2_grpc
from kinora.runtime.auth import mint_service_token
from kinora.runtime.errors import ERROR_CODE_KEY
from kinora.runtime.pki import CertificateAuthority
from kinora.runtime.tls import channel_credentials
from kinora.stack.local import TLS_IDENTITIES
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer, temporary_database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "billing"))
sys.path.insert(0, str(ROOT / "tests" / "system"))
from billing_support import make_settings, open_users  # noqa: E402

SECRET = "service-identity-test-internal-secret-0123456789"
USER = "u-identity"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A certificate per service (and the operator's), plus a generator certificate from
    another CA that copies the real CA's name."""
    ca = CertificateAuthority(tmp_path_factory.mktemp("tls"))
    files = {name: ca.issue(name) for name in TLS_IDENTITIES}
    rogue = CertificateAuthority(tmp_path_factory.mktemp("rogue"))
    files["rogue-generator"] = rogue.issue("generator")
    return files


def creds(pki, who: str | None) -> grpc.ChannelCredentials:
    ca = pki["generator"].ca
    if who is None:  # TLS, trusting the cluster CA, but no client certificate
        return grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes())
    f = pki[who]
    return channel_credentials(f.cert, f.key, ca)  # the rogue's key and certificate, our CA as trust


def error_code(err: grpc.aio.AioRpcError) -> str:
    return dict(err.trailing_metadata() or ()).get(ERROR_CODE_KEY, "")


@pytest.fixture
async def billing(pki):
    issuer = LocalIssuer()
    with temporary_database("kt_svcid") as url:
        f = pki["billing"]
        settings = make_settings(
            url,
            grpc_host="127.0.0.1",
            grpc_port=free_port(),
            internal_secret=SECRET,
            tls_cert_file=f.cert,
            tls_key_file=f.key,
            tls_ca_file=f.ca,
            require_mtls=True,
        )
        svc = build_billing(settings, issuer)
        await svc.ctx.app.start()
        open_users(svc.billing, USER)
        svc.issuer = issuer
        try:
            yield svc
        finally:
            await svc.ctx.app.stop()
            from kinora.runtime.clients import stop_mutual_tls

            stop_mutual_tls()


def build_billing(settings, issuer):
    from services.billing.server import build_service

    return build_service(settings, jwks_fetcher=issuer.fetch_jwks, deliver_test_webhooks=False)


async def reserve(billing, pki, cert: str | None, token: str | None):
    async with grpc.aio.secure_channel(f"127.0.0.1:{billing.ctx.app.port}", creds(pki, cert)) as ch:
        return await billing_pb2_grpc.BillingServiceStub(ch).Reserve(
            bpb.ReserveRequest(
                generation_id=str(uuid.uuid4()), user_id=USER, model="standard", seconds=4, size="720x1280"
            ),
            metadata=bearer(token) if token else None,
            timeout=10,
        )


def generator_token() -> str:
    return mint_service_token("generator", SECRET)[0]


async def test_the_generator_with_its_certificate_reserves(billing, pki):
    reply = await reserve(billing, pki, "generator", generator_token())
    assert reply.reservation.generation_id and not reply.replayed


async def test_a_leaked_secret_does_not_make_feed_the_generator(billing, pki):
    """feed's certificate (its pod), with a service:generator token minted from the leaked secret."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await reserve(billing, pki, "feed", generator_token())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(err.value) == "peer_mismatch"
    assert "generator's certificate" in err.value.details()
    # feed acting as itself is authenticated, and refused by Reserve's own rule.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await reserve(billing, pki, "feed", mint_service_token("feed", SECRET)[0])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("cert", [None, "rogue-generator"], ids=["no-client-certificate", "another-ca"])
async def test_without_a_cluster_certificate_no_connection(billing, pki, cert):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await reserve(billing, pki, cert, generator_token())
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    async with grpc.aio.insecure_channel(f"127.0.0.1:{billing.ctx.app.port}") as ch:  # nor in plaintext
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await billing_pb2_grpc.BillingServiceStub(ch).Reserve(bpb.ReserveRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_user_tokens_only_from_the_gateway(billing, pki):
    user = billing.issuer.token(USER, "someone")
    address = f"127.0.0.1:{billing.ctx.app.port}"
    async with grpc.aio.secure_channel(address, creds(pki, "gateway")) as ch:
        reply = await billing_pb2_grpc.BillingServiceStub(ch).GetBalance(
            bpb.GetBalanceRequest(), metadata=bearer(user), timeout=10
        )
        assert reply is not None
    async with grpc.aio.secure_channel(address, creds(pki, "generator")) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await billing_pb2_grpc.BillingServiceStub(ch).GetBalance(
                bpb.GetBalanceRequest(), metadata=bearer(user), timeout=10
            )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and error_code(err.value) == "peer_mismatch"


def _server_certificate(port: int, pki) -> x509.Certificate:
    ctx = ssl.create_default_context(cafile=pki["admin"].ca)
    ctx.load_cert_chain(pki["admin"].cert, pki["admin"].key)
    ctx.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


async def test_a_renewed_certificate_is_served_without_a_restart(billing, pki, tmp_path):
    """cert-manager rewrites the mounted files; the next handshake gets the new certificate."""
    port = billing.ctx.app.port
    before = await asyncio.to_thread(_server_certificate, port, pki)
    f = pki["billing"]
    ca = CertificateAuthority(Path(f.ca).parent)  # the same CA, loaded from its files
    renewed = ca.issue("billing", directory=tmp_path)
    Path(f.key).write_bytes(Path(renewed.key).read_bytes())
    Path(f.cert).write_bytes(Path(renewed.cert).read_bytes())
    after = await asyncio.to_thread(_server_certificate, port, pki)
    assert after.serial_number != before.serial_number
    assert after.serial_number == x509.load_pem_x509_certificate(Path(renewed.cert).read_bytes()).serial_number
    reply = await reserve(billing, pki, "generator", generator_token())  # and calls still work
    assert reply.reservation.generation_id


# --- every require_service site, read from the code ----------------------------------------


def require_service_sites() -> list[tuple[str, str, tuple[str, ...], bool]]:
    """(area, RPC method, services allowed, unconditional) for every require_service(...) call
    in services/*/: a new site is in this matrix without anyone adding it. A call inside a
    private helper method (`_check_requester`) counts for each method of the class that uses
    the helper, as a conditional site."""
    sites = []
    for path in sorted((ROOT / "services").glob("*/*.py")):
        tree = ast.parse(path.read_text())
        constants = {
            t.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            methods = [n for n in cls.body if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef)]
            found: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
            for fn in methods:
                top = {id(stmt.value) for stmt in fn.body if isinstance(stmt, ast.Expr)}
                for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
                    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                    if name != "require_service":
                        continue
                    allowed = []
                    for arg in call.args:
                        if isinstance(arg, ast.Starred):
                            allowed += ast.literal_eval(constants[arg.value.id])
                        else:
                            allowed.append(ast.literal_eval(arg))
                    found.setdefault(fn.name, []).append((tuple(allowed), id(call) in top))
            helpers = {name for name in found if name.startswith("_")}
            for fn in methods:
                if fn.name.startswith("_"):
                    continue
                used = {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)} & helpers
                own = found.get(fn.name, []) + [(allowed, False) for h in sorted(used) for allowed, _ in found[h]]
                sites += [(path.parent.name, fn.name, allowed, top) for allowed, top in dict.fromkeys(own)]
    return sites


SITES = require_service_sites()


def rpc_of(area: str, method: str):
    """(full method path, request class) of the RPC an area's servicer method implements."""
    import importlib

    from google.protobuf.message_factory import GetMessageClass

    module = importlib.import_module(f"kinora.{area}.v1.{area}_pb2")
    for service in module.DESCRIPTOR.services_by_name.values():
        found = service.methods_by_name.get(method)
        if found is not None:
            return f"/{service.full_name}/{method}", GetMessageClass(found.input_type)
    raise AssertionError(
        f"services/{area}: require_service in {method}, which is no RPC of kinora.{area}.v1: add its case to this test"
    )


def test_the_matrix_covers_the_known_sites():
    found = {(area, method) for area, method, _, _ in SITES}
    assert {
        ("billing", "Reserve"),
        ("billing", "Capture"),
        ("billing", "Release"),
        ("billing", "HandlePaymentWebhook"),
        ("cameo", "CheckUse"),
        ("cameo", "GetLikeness"),
        ("feed", "CanViewGeneration"),
    } <= found
    for area, method, _, _ in SITES:
        rpc_of(area, method)  # every site is an RPC this test can call


@pytest.fixture(scope="module")
def platform(pki, tmp_path_factory):
    """All five services over mutual TLS, in this process (tests/system's harness)."""
    from platform_harness import PlatformThread

    with PlatformThread(tmp_path_factory.mktemp("svcid"), tls=pki) as running:
        yield running
    from kinora.runtime.clients import stop_mutual_tls

    stop_mutual_tls()


def call(platform, pki, area: str, method: str, cert: str, token_service: str) -> grpc.StatusCode:
    from platform_harness import SECRET as PLATFORM_SECRET

    path, request_class = rpc_of(area, method)
    token = mint_service_token(token_service, PLATFORM_SECRET)[0]
    with grpc.secure_channel(platform.addr[area], creds(pki, cert)) as ch:
        rpc = ch.unary_unary(
            path, request_serializer=request_class.SerializeToString, response_deserializer=lambda b: b
        )
        try:
            rpc(request_class(), metadata=bearer(token), timeout=20)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


AUTHZ_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
CALLERS = tuple(n for n in TLS_IDENTITIES)


@pytest.mark.parametrize("area,method,allowed,unconditional", SITES, ids=[f"{a}.{m}" for a, m, _, _ in SITES])
def test_every_service_only_as_itself(platform, pki, area, method, allowed, unconditional):
    """For each site: each allowed service with its own certificate gets past authorisation;
    every other certificate carrying that service's token is refused (the leaked secret);
    a service not allowed, as itself, is refused where the rule is unconditional."""
    cells = {}
    for claimed in allowed:
        cells[(claimed, claimed)] = call(platform, pki, area, method, claimed, claimed)
        assert cells[(claimed, claimed)] not in AUTHZ_REFUSED, (claimed, cells[(claimed, claimed)])
        for cert in CALLERS:
            if cert != claimed:
                cells[(cert, claimed)] = call(platform, pki, area, method, cert, claimed)
                assert cells[(cert, claimed)] == grpc.StatusCode.UNAUTHENTICATED, (cert, claimed, cells)
    if unconditional:
        for other in (n for n in CALLERS if n not in allowed):
            code = call(platform, pki, area, method, other, other)
            assert code == grpc.StatusCode.PERMISSION_DENIED, (other, code)
