"""kinora.runtime.convert's whole-seconds helpers agree with protobuf's own Timestamp methods:
`epoch_seconds` with `ToSeconds`, `set_epoch_seconds` with `FromSeconds(int(...))`."""

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kinora.runtime.convert import epoch_seconds, set_epoch_seconds, timestamp
from kinora.runtime.v1.runtime_pb2 import GetInfoResponse


@pytest.mark.parametrize(
    "value",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 6, 7, 30, 0, 999_999, tzinfo=UTC),  # a fraction: not rounded up
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),  # before 1970: the floor
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
    ids=str,
)
def test_epoch_seconds_is_the_floor_as_to_seconds_gives_it(value):
    stamp = timestamp(value)
    assert (
        epoch_seconds(stamp) == stamp.ToSeconds() == (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    )


def test_epoch_seconds_of_an_unset_field_is_zero():
    assert epoch_seconds(GetInfoResponse().started_at) == 0


@pytest.mark.parametrize("seconds", [0, 1_765_000_000, 1_765_000_000.9, -5, 253402300799])
def test_set_epoch_seconds_writes_what_from_seconds_writes(seconds):
    expected = Timestamp()
    expected.FromSeconds(int(seconds))
    reply = GetInfoResponse()
    reply.started_at.nanos = 123  # overwritten: nanos 0
    set_epoch_seconds(reply.started_at, seconds)
    assert reply.HasField("started_at") and reply.started_at == expected
    assert epoch_seconds(reply.started_at) == int(seconds)
