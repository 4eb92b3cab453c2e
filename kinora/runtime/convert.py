"""Datetimes to and from protobuf Timestamps, one way for every service.

protobuf's own `Timestamp.FromDatetime` is pure Python (a `utctimetuple` and a
`calendar.timegm` a call) and showed in GetFeed's and Reserve's profiles;
`set_timestamp` computes the same seconds and nanos with one subtraction (about
0.3 µs a call against FromDatetime's 1.8 µs). A naive datetime is taken as UTC,
as `FromDatetime` takes it; an aware one is converted to UTC. `None` leaves the
field unset."""

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from kinora.runtime.errors import InvalidArgument

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_SECONDS_MIN, _SECONDS_MAX = -62135596800, 253402300799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z


def set_timestamp(field: Timestamp, value: datetime | None) -> None:
    """Write `value` into a Timestamp field (a message's submessage, set in place)."""
    if value is None:
        return
    try:
        since = value - _EPOCH
    except TypeError:  # naive: taken as UTC
        since = value - _EPOCH_NAIVE
    # A timedelta is normalised (0 <= seconds < 86400, 0 <= microseconds < 10**6), so this is
    # the floor in seconds and the positive nanos a Timestamp wants, before 1970 too.
    field.seconds, field.nanos = since.days * 86400 + since.seconds, since.microseconds * 1000


def timestamp(value: datetime | None) -> Timestamp | None:
    """A Timestamp for a message constructor's keyword (None leaves the field unset)."""
    if value is None:
        return None
    stamp = Timestamp()
    set_timestamp(stamp, value)
    return stamp


def from_timestamp(value: Timestamp) -> datetime:
    """The aware UTC datetime a Timestamp holds (to the microsecond, nanos truncated as
    `ToDatetime` truncates them). Raises ValueError for a Timestamp outside the range
    protobuf allows (years 1 to 9999, nanos in [0, 10^9)), as `ToDatetime` does."""
    seconds, nanos = value.seconds, value.nanos
    if not (_SECONDS_MIN <= seconds <= _SECONDS_MAX and 0 <= nanos < 1_000_000_000):
        raise ValueError(f"Timestamp out of range: {seconds}s {nanos}ns")
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def datetime_or_none(message: object, field: str) -> datetime | None:
    """The datetime in `message.<field>`, or None when the field is unset."""
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(message, field)
    return from_timestamp(stamp)


def epoch_seconds(value: Timestamp) -> int:
    """Whole Unix seconds of a Timestamp (as APIs that count time in seconds show it): the floor,
    before 1970 too, since a Timestamp's nanos are never negative; 0 for an unset field."""
    return int(value.seconds)


def set_epoch_seconds(field: Timestamp, seconds: float) -> None:
    """Write Unix seconds (a token's `exp`, say) into a Timestamp field, in place: whole seconds,
    a fraction truncated and nanos 0, as protobuf's `FromSeconds(int(seconds))` writes them."""
    field.seconds, field.nanos = int(seconds), 0


def seconds_or_none(message: object, field: str) -> int | None:
    """Whole Unix seconds of `message.<field>` (as APIs that count time in seconds show it),
    or None when the field is unset."""
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(message, field)
    return epoch_seconds(stamp)


def to_datetime(value: Timestamp, field: str) -> datetime:
    """A UTC datetime from a request Timestamp; out-of-range values are the caller's error."""
    try:
        return from_timestamp(value)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is not a valid time", "invalid_time") from None
