"""Comment and caption moderation. Uses the generator's prompt Moderator
(rules + sentence-embedding classifier for sexual content, gore, self-harm)
plus a short rule list for what matters in replies to people: harassment,
slurs and spam. Naming a public figure is fine in a comment, so that
category of the prompt moderator is not applied here."""

from __future__ import annotations

import re

from kinora.moderation import Moderator

_HARASSMENT = re.compile(
    r"\b(kill yourself|kys|go die|nobody likes you|you should die|i will (hurt|find) you|"
    r"you('| a)?re (worthless|disgusting|pathetic)|ugly (loser|freak))\b",
    re.I,
)
_SPAM = re.compile(r"(https?://\S+.*){3,}|\b(free followers|buy followers|dm me for promo|crypto giveaway)\b", re.I)


class CommentModerator:
    def __init__(self, moderator: Moderator | None = None) -> None:
        self.moderator = moderator or Moderator()

    def refusal(self, text: str) -> str | None:
        if hit := _HARASSMENT.search(text):
            return f'harassment is not allowed ("{hit.group()}")'
        if _SPAM.search(text):
            return "spam and follower schemes are not allowed"
        result = self.moderator.check(text[:4000])
        if not result.allowed and result.category != "public_figure":
            return result.reason
        return None
