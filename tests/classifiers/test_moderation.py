"""Generation-prompt moderation: dataset metrics as a regression guard, plus explicit cases."""

import json

import pytest

from kinora.moderation import CASES, CATEGORIES, MAX_PROMPT_CHARS, Moderator

# Measured: blocked-vs-allowed all P 0.947 R 1.000, held-out test P 0.850 R 1.000.
OVERALL_FLOORS = {"all": (0.92, 0.97), "test": (0.80, 0.95)}
CATEGORY_RECALL_FLOOR = 0.75  # whole set, every category
MINOR_SEXUAL_RECALL = 1.0  # never relaxed


@pytest.fixture(scope="module")
def moderator():
    return Moderator()


@pytest.fixture(scope="module")
def predictions(moderator):
    cases = [json.loads(line) for line in CASES.read_text().splitlines()]
    return cases, [moderator.check(c["prompt"], c["has_cameo"], c["cameo_names"]).category for c in cases]


def _pr(pairs):
    tp = sum(e and p for e, p in pairs)
    fp = sum(p and not e for e, p in pairs)
    fn = sum(e and not p for e, p in pairs)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def test_dataset_shape(predictions):
    cases, _ = predictions
    assert len(cases) >= 100
    assert sum(c["category"] is None for c in cases) >= 40
    for category in CATEGORIES:
        assert sum(c["category"] == category for c in cases) >= 8, category


def test_overall_floors(predictions):
    cases, got = predictions
    for name in ("all", "test"):
        pairs = [
            (c["category"] is not None, g is not None)
            for c, g in zip(cases, got)
            if name == "all" or c["split"] == name
        ]
        precision, recall = _pr(pairs)
        assert precision >= OVERALL_FLOORS[name][0], (name, precision)
        assert recall >= OVERALL_FLOORS[name][1], (name, recall)


def test_category_recall(predictions):
    cases, got = predictions
    for category in CATEGORIES:
        _, recall = _pr([(c["category"] == category, g == category) for c, g in zip(cases, got)])
        assert recall >= CATEGORY_RECALL_FLOOR, (category, recall)
    blocked_minor = [g is not None for c, g in zip(cases, got) if c["category"] == "minor_sexual"]
    assert sum(blocked_minor) / len(blocked_minor) >= MINOR_SEXUAL_RECALL


def test_minor_sexual_takes_precedence(moderator):
    result = moderator.check("Taylor Swift and a naked 14-year-old")
    assert not result.allowed and result.category == "minor_sexual"
    assert "minors" in result.reason


@pytest.mark.parametrize(
    "prompt",
    [
        "a basketball player shoots a fadeaway jumper",
        "a chef cuts vegetables for a stew",
        "a historical battle reenactment painting",
        "a suicide prevention awareness walk in the park",
    ],
)
def test_hard_negatives_allowed(moderator, prompt):
    assert moderator.check(prompt).allowed


def test_public_figure_needs_their_own_cameo(moderator):
    prompt = "me and Barack Obama playing basketball"
    refused = moderator.check(prompt, has_cameo=True, cameo_names=["Sam Rivera"])
    assert refused.category == "public_figure" and "barack obama" in refused.reason
    assert moderator.check(prompt).category == "public_figure"
    assert moderator.check(prompt, has_cameo=True, cameo_names=["Barack Obama"]).allowed


def test_refusal_names_category(moderator):
    result = moderator.check("a man slits his wrists in the bathtub")
    assert (result.allowed, result.category) == (False, "self_harm")
    assert "self-harm" in result.reason


@pytest.mark.parametrize("prompt,message", [("", "empty"), ("  \n", "empty"), ("y" * (MAX_PROMPT_CHARS + 1), "limit")])
def test_bad_input(moderator, prompt, message):
    with pytest.raises(ValueError, match=message):
        moderator.check(prompt)
