"""Mutual-TLS credentials from the files KINORA_TLS_* name.

Servers re-read the files when they change: cert-manager renews a certificate
by rewriting the mounted Secret, and each new connection's handshake then gets
the new certificate, key and CA (a stat of three files per handshake; calls on
existing connections are not touched). Clients read the files when their
process starts: a renewed client certificate is presented after the next
(rolling) restart, well before the old one expires (docs/ops.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import cast

import grpc

log = logging.getLogger("kinora.tls")


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class _Watched:
    """The three files and the (mtime, size) they had when last read."""

    def __init__(self, cert_file: str, key_file: str, ca_file: str):
        self.paths = (cert_file, key_file, ca_file)
        self.stamp = self._stamp()

    def _stamp(self) -> tuple[tuple[int, int, int], ...]:
        return tuple((st.st_mtime_ns, st.st_size, st.st_ino) for st in map(os.stat, self.paths))

    def config(self) -> grpc.ServerCertificateConfiguration:
        cert, key, ca = (_read(p) for p in self.paths)
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def changed_config(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: a new configuration, or None to keep the last."""
        try:
            stamp = self._stamp()
            if stamp == self.stamp:
                return None
            config = self.config()
        except Exception as exc:  # noqa: BLE001 - half-written files: keep serving with the last ones
            log.warning("could not re-read the TLS files, keeping the current ones: %s", exc)
            return None
        self.stamp = stamp
        log.info("TLS certificate files changed; new connections use the new certificate")
        return config


def server_credentials(cert_file: str, key_file: str, ca_file: str) -> grpc.ServerCredentials:
    """Mutual TLS: callers must present a certificate signed by the CA."""
    watched = _Watched(cert_file, key_file, ca_file)
    # gRPC takes None from the fetcher as "keep the current configuration" (the stubs say otherwise)
    fetch = cast(Callable[[], grpc.ServerCertificateConfiguration], watched.changed_config)
    return grpc.dynamic_ssl_server_credentials(watched.config(), fetch, require_client_authentication=True)


def channel_credentials(cert_file: str, key_file: str, ca_file: str) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file), private_key=_read(key_file), certificate_chain=_read(cert_file)
    )
