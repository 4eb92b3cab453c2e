"""This process's gRPC transport settings, shared by its server and its outgoing channels.

One service per process: when the server is given certificate files (KINORA_TLS_*), the same
certificate is the process's identity on its outgoing channels too. Workers and gateways, which
serve no gRPC, switch mutual TLS on from their settings (`use_settings_tls`).
"""

from __future__ import annotations

from typing import Any

import grpc

from kinora.runtime.tls import channel_credentials

MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # verification videos are up to 30 MB

_channel_credentials: grpc.ChannelCredentials | None = None


def use_mutual_tls(cert_file: str, key_file: str, ca_file: str) -> None:
    """From now on, channels present this certificate (this process's identity:
    one service per process) and trust only this CA."""
    global _channel_credentials
    _channel_credentials = channel_credentials(cert_file, key_file, ca_file)


def use_settings_tls(settings: Any) -> None:
    """Mutual TLS for this process's outgoing channels when its settings name certificate
    files (KINORA_TLS_*): gateways and workers, which serve no gRPC, call this at start."""
    cert_file = getattr(settings, "tls_cert_file", None)
    if cert_file:
        use_mutual_tls(cert_file, settings.tls_key_file, settings.tls_ca_file)


def stop_mutual_tls() -> None:
    """Outgoing channels are plaintext again (a stopped server, or a test that ends)."""
    global _channel_credentials
    _channel_credentials = None


def outgoing_credentials() -> grpc.ChannelCredentials | None:
    """The credentials new outgoing channels use, or None for plaintext."""
    return _channel_credentials
