"""Input rules for accounts: handles, passwords, birth dates, invite and link
codes. Pure functions; each raises InvalidArgument naming what is wrong."""

from __future__ import annotations

import re
from datetime import date

from kinora.runtime.errors import InvalidArgument

HANDLE_RE = re.compile(r"^[a-z0-9_.]{3,30}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 256  # the cap keeps argon2 input (and CPU) bounded
MIN_AGE, MAX_AGE = 13, 120
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read aloud


def normalise_handle(raw: str) -> str:
    handle = raw.strip().lower()
    if not HANDLE_RE.match(handle):
        raise InvalidArgument("a handle is 3 to 30 characters of a-z, 0-9, underscore and dot", "invalid_handle")
    return handle


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidArgument(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters long", "invalid_password")


def parse_birthdate(raw: str, today: date) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            raise ValueError
        born = date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidArgument(
            "birthdate must be a date written YYYY-MM-DD, e.g. 2001-04-30", "invalid_birthdate"
        ) from None
    if born > today or age_on(born, today) > MAX_AGE:
        raise InvalidArgument("birthdate is not a plausible date of birth", "invalid_birthdate")
    return born


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def normalise_invite(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw).upper()
