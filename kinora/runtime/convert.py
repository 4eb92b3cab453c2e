"""Conversions of request fields that can fail on hostile input."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from kinora.runtime.errors import InvalidArgument


def to_datetime(value: Timestamp, field: str) -> datetime:
    """A UTC datetime from a request Timestamp; out-of-range values are the caller's error."""
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is not a valid time", "invalid_time") from None
