"""Cameo restriction matching: dataset metrics as a regression guard, plus explicit cases."""

import json
from pathlib import Path

import pytest

from services.cameo.restrictions import MAX_PROMPT_CHARS, RestrictionMatcher

CASES = Path(__file__).resolve().parents[2] / "services/cameo/data/restriction_cases.jsonl"
# Measured: all P 0.938 R 0.900; held-out test P 0.923 R 0.800 (docs/classifiers.md).
FLOORS = {"all": (0.90, 0.86), "test": (0.88, 0.75)}


@pytest.fixture(scope="module")
def matcher():
    return RestrictionMatcher()


def _metrics(cases, matcher):
    tp = fp = fn = 0
    for case in cases:
        got = bool(matcher.check(case["prompt"], [case["restriction"]]))
        tp += got and case["conflict"]
        fp += got and not case["conflict"]
        fn += case["conflict"] and not got
    return tp / (tp + fp), tp / (tp + fn)


def test_dataset_is_large_and_balanced():
    cases = [json.loads(line) for line in CASES.read_text().splitlines()]
    assert len(cases) >= 60
    assert sum(c["conflict"] for c in cases) >= 25
    assert sum(c["hard_negative"] for c in cases) >= 20
    assert {c["split"] for c in cases} == {"tune", "test"}


def test_precision_recall_floors(matcher):
    cases = [json.loads(line) for line in CASES.read_text().splitlines()]
    for name, subset in (("all", cases), ("test", [c for c in cases if c["split"] == "test"])):
        precision, recall = _metrics(subset, matcher)
        assert precision >= FLOORS[name][0], (name, precision)
        assert recall >= FLOORS[name][1], (name, recall)


def test_exact_term_quotes_restriction_verbatim(matcher):
    restriction = "Never in POLITICAL content!"
    [conflict] = matcher.check("me waving at an election rally", [restriction, "no horror"])
    assert conflict.restriction == restriction
    assert conflict.match == "exact"
    assert restriction in conflict.reason
    assert "election" in conflict.reason


def test_semantic_match(matcher):
    prompt = "me walking through an abandoned asylum at midnight as shadows move"
    [conflict] = matcher.check(prompt, ["no horror"])
    assert conflict.match == "semantic"
    assert conflict.restriction == "no horror"
    assert conflict.zscore is not None and conflict.zscore >= matcher.semantic_threshold


@pytest.mark.parametrize(
    "prompt,restriction",
    [
        ("me adding numbers on a whiteboard", "don't put me in ads"),
        ("me drinking orange juice at breakfast", "nothing with alcohol"),
        ("me baking cookies in a sunny kitchen", "no horror"),
    ],
)
def test_no_conflict(matcher, prompt, restriction):
    assert matcher.check(prompt, [restriction]) == []


def test_only_conflicting_restrictions_are_returned(matcher):
    restrictions = ["no horror", "don't put me in ads", "nothing with alcohol"]
    conflicts = matcher.check("me chased by zombies. Then I drink a beer.", restrictions)
    assert sorted(c.restriction for c in conflicts) == ["no horror", "nothing with alcohol"]


@pytest.mark.parametrize(
    "prompt,restrictions,message",
    [
        ("", ["no horror"], "empty"),
        ("   ", ["no horror"], "empty"),
        ("x" * (MAX_PROMPT_CHARS + 1), ["no horror"], "limit"),
        ("a walk", [""], "empty"),
        ("a walk", ["don't put me in any of the content"], "names no topic"),
        ("a walk", ["no " + "x" * 400], "limit"),
    ],
)
def test_bad_input(matcher, prompt, restrictions, message):
    with pytest.raises(ValueError, match=message):
        matcher.check(prompt, restrictions)
