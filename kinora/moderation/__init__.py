"""Moderation shared by the services: prompt moderation (the generator, before
a generation is queued) which the feed also applies to comments and captions.
The labelled cases it is tuned and evaluated on are in data/moderation_cases.jsonl."""

from pathlib import Path

from kinora.moderation.prompts import CATEGORIES, EMBEDDING_THRESHOLDS, MAX_PROMPT_CHARS, ModerationResult, Moderator

CASES = Path(__file__).parent / "data" / "moderation_cases.jsonl"

__all__ = ["CASES", "CATEGORIES", "EMBEDDING_THRESHOLDS", "MAX_PROMPT_CHARS", "ModerationResult", "Moderator"]
