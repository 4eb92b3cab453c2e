"""kinora.runtime.paging: page tokens round-trip their key values; garbage,
tampered, mistyped and (when signed) other-scope tokens all get the same
InvalidArgument; page_size has one rule."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kinora.runtime.errors import InvalidArgument
from kinora.runtime.paging import PageTokens, keyset_token, page_size

PLAIN, SIGNED = PageTokens(), PageTokens(b"k" * 32)


def refused(tokens, token, *kinds, scope=""):
    with pytest.raises(InvalidArgument) as err:
        tokens.decode(token, *kinds, scope=scope)
    assert err.value.code == "invalid_page_token" and "page_token is not valid" in err.value.message
    return err.value


@pytest.mark.parametrize("tokens", [PLAIN, SIGNED], ids=["plain", "signed"])
@pytest.mark.parametrize(
    "values,kinds",
    [
        ((datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC), "inv-ABC"), (datetime, str)),
        ((datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-3))), "k"), (datetime, str)),
        ((datetime(2026, 1, 2), "naive"), (datetime, str)),
        ((123456789012,), (int,)),
        ((0,), (int,)),
        (("pa/ss+wo=rd é ✓", -5), (str, int)),
    ],
)
def test_values_round_trip_through_an_url_safe_token(tokens, values, kinds):
    token = tokens.encode(*values, scope="me")
    assert token and all(c.isalnum() or c in "-_." for c in token)
    decoded = tokens.decode(token, *kinds, scope="me")
    assert decoded == values
    assert [getattr(v, "tzinfo", None) for v in decoded] == [getattr(v, "tzinfo", None) for v in values]


@pytest.mark.parametrize("tokens", [PLAIN, SIGNED], ids=["plain", "signed"])
def test_the_first_page_has_no_token(tokens):
    assert tokens.decode("", datetime, str) is None
    assert tokens.decode_offset("") == 0


@pytest.mark.parametrize("tokens", [PLAIN, SIGNED], ids=["plain", "signed"])
@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        "junk!",
        "!!!!",
        "a",
        "a.b.c",
        "....",
        "\x00\xff",
        "é",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        base64.urlsafe_b64encode(b"{not json").decode(),
    ],
)
def test_garbage_is_refused(tokens, garbage):
    refused(tokens, garbage, datetime, str)
    with pytest.raises(InvalidArgument):
        tokens.decode_offset(garbage)


def _plain(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        {"o": 5},  # another service's old format
        ["2026-01-02T03:04:05", "k"],  # a datetime not written as one
        [{"t": "yesterday"}, "k"],  # not an ISO time
        [{"t": "2026-01-02T03:04:05", "x": 1}, "k"],
        [{"t": "2026-01-02T03:04:05"}],  # too few values
        [{"t": "2026-01-02T03:04:05"}, "k", "extra"],  # too many
        [{"t": "2026-01-02T03:04:05"}, 7],  # the key is not a string
        [{"t": "2026-01-02T03:04:05"}, None],
    ],
)
def test_well_formed_tokens_of_the_wrong_shape_are_refused(payload):
    refused(PLAIN, _plain(payload), datetime, str)


@pytest.mark.parametrize("payload", [[-1], [True], ["5"], [5.5], [], [1, 2]])
def test_offsets_must_be_one_non_negative_integer(payload):
    with pytest.raises(InvalidArgument):
        PLAIN.decode_offset(_plain(payload))


def test_a_signed_token_cannot_be_edited_forged_or_used_in_another_scope():
    token = SIGNED.encode(40, scope="posts:alice")
    assert SIGNED.decode_offset(token, scope="posts:alice") == 40
    body, mac = token.split(".")
    edited = _plain([4000]) + "." + mac  # a larger offset under the old signature
    refused(SIGNED, edited, int, scope="posts:alice")
    refused(SIGNED, body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"), int, scope="posts:alice")
    refused(SIGNED, body, int, scope="posts:alice")  # the signature dropped
    refused(SIGNED, token, int, scope="posts:bob")  # another viewer's token
    refused(SIGNED, token, int, scope="comments:alice")  # another list's token
    refused(PageTokens(b"other key"), token, int, scope="posts:alice")  # another key's token
    refused(SIGNED, PLAIN.encode(40), int, scope="posts:alice")  # an unsigned one


@pytest.mark.parametrize("tokens", [PLAIN, SIGNED], ids=["plain", "signed"])
def test_characters_outside_base64url_are_refused_not_skipped(tokens):
    token = tokens.encode(40)
    assert tokens.decode_offset(token) == 40
    for edited in (
        token + "!!",
        "!" + token,
        token.replace(token[1], "+" if token[1] != "+" else "/", 1),
        token[:2] + " " + token[2:],
    ):
        refused(tokens, edited, int)


def test_next_offset_and_keyset_tokens():
    assert PLAIN.next_offset(20, 10, more=False) == ""
    assert PLAIN.decode_offset(PLAIN.next_offset(20, 10, more=True)) == 30

    class Row:
        def __init__(self, i):
            self.created_at, self.code = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i), f"c{i}"

    rows = [Row(i) for i in range(4)]
    assert keyset_token(PLAIN, rows, 4, "created_at", "code") == ""  # no row to spare: the last page
    token = keyset_token(PLAIN, rows, 3, "created_at", "code")  # read 4 for a page of 3
    assert PLAIN.decode(token, datetime, str) == (rows[2].created_at, "c2")
    as_dicts = [vars(r) for r in rows]
    assert keyset_token(PLAIN, as_dicts, 3, "created_at", "code") == token


def test_page_size_rule():
    assert page_size(0, 50, 200) == 50
    assert page_size(7, 50, 200) == 7
    assert page_size(200, 50, 200) == 200
    assert page_size(10_000, 50, 200) == 200
    with pytest.raises(InvalidArgument) as err:
        page_size(-1, 50, 200)
    assert err.value.code == "invalid_page_size"


def test_unsupported_key_values_are_a_programming_error():
    with pytest.raises(TypeError):
        PLAIN.encode(1.5)
    with pytest.raises(TypeError):
        PLAIN.encode(True)
