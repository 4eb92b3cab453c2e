"""kinora.runtime.convert: the fast datetime -> Timestamp conversion agrees with
protobuf's own FromDatetime (and the reverse with ToDatetime) at the edges."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kinora.runtime.convert import (
    datetime_or_none,
    from_timestamp,
    seconds_or_none,
    set_timestamp,
    timestamp,
    to_datetime,
)
from kinora.runtime.errors import InvalidArgument
from kinora.runtime.v1.runtime_pb2 import GetInfoResponse

EDGES = [
    datetime(1970, 1, 1, tzinfo=UTC),  # the epoch
    datetime(1970, 1, 1),  # naive: taken as UTC
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # one microsecond before it
    datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    datetime(1900, 2, 28, 12, 0, 0, 500_000),  # pre-1970, naive, with microseconds
    datetime(1, 1, 1, tzinfo=UTC),  # the smallest Timestamp
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # the largest
    datetime(2026, 12, 6, 1, 2, 3, 456_789, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),  # aware, not UTC
    datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=timezone(timedelta(hours=-8))),
]


@pytest.mark.parametrize("value", EDGES, ids=str)
def test_set_timestamp_matches_from_datetime(value):
    expected, got = Timestamp(), Timestamp()
    expected.FromDatetime(value)
    set_timestamp(got, value)
    assert (got.seconds, got.nanos) == (expected.seconds, expected.nanos)
    assert timestamp(value) == expected


@pytest.mark.parametrize("value", EDGES, ids=str)
def test_from_timestamp_matches_to_datetime_and_round_trips(value):
    stamp = timestamp(value)
    back = from_timestamp(stamp)
    assert back == stamp.ToDatetime(tzinfo=UTC)
    assert back.tzinfo is UTC
    assert back == (value if value.tzinfo else value.replace(tzinfo=UTC))


def test_nanos_below_a_microsecond_are_dropped_as_to_datetime_drops_them():
    stamp = Timestamp(seconds=-1, nanos=999_999_999)
    assert from_timestamp(stamp) == stamp.ToDatetime(tzinfo=UTC)


def test_none_leaves_the_field_unset_and_datetime_or_none_reads_presence():
    reply = GetInfoResponse()
    set_timestamp(reply.started_at, None)
    assert not reply.HasField("started_at")
    assert timestamp(None) is None
    assert GetInfoResponse(started_at=timestamp(None)).HasField("started_at") is False
    assert datetime_or_none(reply, "started_at") is None and seconds_or_none(reply, "started_at") is None
    when = datetime(1969, 7, 20, 20, 17, 40, 123_456, tzinfo=UTC)
    set_timestamp(reply.started_at, when)
    assert reply.HasField("started_at") and datetime_or_none(reply, "started_at") == when
    assert seconds_or_none(reply, "started_at") == -14182940  # floor, as Timestamp.seconds holds it


@pytest.mark.parametrize(
    "stamp",
    [
        Timestamp(seconds=253402300800),
        Timestamp(seconds=-62135596801),
        Timestamp(seconds=0, nanos=-1),
        Timestamp(seconds=0, nanos=1_000_000_000),
    ],
)
def test_out_of_range_timestamps_are_refused_like_to_datetime(stamp):
    with pytest.raises(ValueError):
        stamp.ToDatetime(tzinfo=UTC)
    with pytest.raises(ValueError):
        from_timestamp(stamp)
    with pytest.raises(InvalidArgument) as err:
        to_datetime(stamp, "since")
    assert err.value.code == "invalid_time" and "since" in str(err.value)
