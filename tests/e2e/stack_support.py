"""The whole local stack (`kinora up`: Tansu, Triton with worldsim, every
service, the generator worker and the gateway, each a real process) on free
ports with a temporary KINORA_HOME, plus the few calls every e2e test needs."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import httpx

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.runtime.auth import mint_service_token
from kinora.stack.local import DEFAULT_PORTS, LocalStack, operator_channel
from kinora.stack.tansu import free_port

PASSWORD = "correct horse battery staple"
DONE = ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED", "GENERATION_STATUS_CANCELED")


def stack_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["KINORA_HOME"] = str(home)
    env["KINORA_METRICS_BASE_PORT"] = "0"  # other stacks may be running on this machine
    for name in DEFAULT_PORTS:
        env[f"KINORA_{name.upper().replace('-', '_')}_PORT"] = str(free_port())
    return env


def start_stack(home: Path) -> LocalStack:
    stack = LocalStack(home, env=stack_env(home))
    stack.start(timeout_s=240)
    return stack


class SharedStack:
    """The one stack that tests/e2e and tests/web share (the `shared_stack` fixture of
    tests/conftest.py): started when a test first asks for it, stopped when the next test does not
    need it. Every test signs up its own users, so none depends on a fresh stack."""

    def __init__(self, home: Path):
        self.home = home
        self._stack: LocalStack | None = None

    @property
    def running(self) -> bool:
        return self._stack is not None

    def get(self) -> LocalStack:
        if self._stack is None:
            self._stack = start_stack(self.home)
        return self._stack

    def restart(self) -> LocalStack:
        """`kinora up` again on the same KINORA_HOME and ports, after a stop; the new stack
        replaces the old one for the tests that follow."""
        old = self.get()
        old.stop()
        self._stack = None
        again = LocalStack(old.home, env=old.env)
        again.start(timeout_s=240)
        self._stack = again
        return again

    def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.stop()


def invite(stack: LocalStack) -> str:
    """`kinora admin invite`: identity's CreateInvite with an operator's service token, over
    mutual TLS with the stack's `admin` certificate."""
    token = mint_service_token("admin", (stack.home / "internal_secret").read_text().strip())[0]
    with operator_channel(stack.home, stack.addr("identity")) as channel:
        return (
            identity_pb2_grpc.IdentityServiceStub(channel)
            .CreateInvite(
                identity_pb2.CreateInviteRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=10
            )
            .invite.code
        )


def sign_up(client: httpx.Client, stack: LocalStack, handle: str | None = None) -> dict:
    handle = handle or f"e2e{uuid.uuid4().hex[:8]}"
    reply = client.post(
        "/api/v1/auth/signup",
        json={
            "invite_code": invite(stack),
            "handle": handle,
            "password": PASSWORD,
            "birthdate": "1990-05-01",
            "region": "US",
        },
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    return {
        "handle": handle,
        "id": body["user"]["id"],
        "headers": {"Authorization": f"Bearer {body['tokens']['access_token']}"},
    }


def wait_generation(client: httpx.Client, user: dict, generation_id: str, timeout_s: float = 180) -> list[dict]:
    """Poll until the generation ends; returns every state seen (progress included)."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reply = client.get(f"/api/v1/generations/{generation_id}", headers=user["headers"])
        assert reply.status_code == 200, reply.text
        seen.append(reply.json()["generation"])
        if seen[-1]["status"] in DONE:
            return seen
        time.sleep(0.3)
    raise AssertionError(f"generation {generation_id} still {seen[-1]['status']} after {timeout_s} s")
