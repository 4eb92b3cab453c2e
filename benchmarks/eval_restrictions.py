"""Quality and speed of cameo restriction matching on the labelled set.

    .venv/bin/python benchmarks/eval_restrictions.py [--sweep]

Prints precision/recall on the whole set, the tune split and the held-out test split at the
threshold shipped in services/cameo/restrictions.py; --sweep also shows which threshold the
tune split alone would pick (the test split is never used to choose it). Then times `check`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.cameo.restrictions import SEMANTIC_THRESHOLD, RestrictionMatcher  # noqa: E402

CASES = ROOT / "services/cameo/data/restriction_cases.jsonl"


def load_cases() -> list[dict]:
    return [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]


def precision_recall(pairs: list[tuple[bool, bool]]) -> tuple[float, float, int, int, int]:
    """pairs of (expected, predicted) -> precision, recall, tp, fp, fn."""
    tp = sum(e and p for e, p in pairs)
    fp = sum(p and not e for e, p in pairs)
    fn = sum(e and not p for e, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp, fp, fn


def case_scores(matcher: RestrictionMatcher, cases: list[dict]) -> list[float]:
    """Each case's decision score (z-score; infinite for an exact term) with the threshold
    disabled, so one pass serves every threshold."""
    scores = []
    for case in cases:
        conflicts = matcher.check(case["prompt"], [case["restriction"]])
        scores.append(max((math.inf if c.zscore is None else c.zscore for c in conflicts), default=-math.inf))
    return scores


def report(name: str, cases: list[dict], scores: list[float], threshold: float) -> None:
    pairs = [(c["conflict"], s >= threshold) for c, s in zip(cases, scores)]
    p, r, tp, fp, fn = precision_recall(pairs)
    print(f"{name:<6} n={len(cases):<3} precision={p:.3f} recall={r:.3f}  (tp={tp} fp={fp} fn={fn})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweep", action="store_true", help="pick a threshold on the tune split")
    parser.add_argument("--errors", action="store_true", help="list misclassified cases")
    args = parser.parse_args()

    cases = load_cases()
    probe = RestrictionMatcher(semantic_threshold=-math.inf)
    scores = case_scores(probe, cases)
    tune = [i for i, c in enumerate(cases) if c["split"] == "tune"]
    test = [i for i, c in enumerate(cases) if c["split"] == "test"]

    if args.sweep:
        print("threshold sweep on the tune split (F1):")
        best = (0.0, 0.0)
        for step in range(10, 61):
            t = step / 10
            p, r, *_ = precision_recall([(cases[i]["conflict"], scores[i] >= t) for i in tune])
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            print(f"  {t:.2f} precision={p:.3f} recall={r:.3f} f1={f1:.3f}")
            best = max(best, (f1, t))
        print(f"tune split picks {best[1]:.2f} (shipped: {SEMANTIC_THRESHOLD:.2f})")

    print(f"z-score threshold {SEMANTIC_THRESHOLD:.2f}")
    report("all", cases, scores, SEMANTIC_THRESHOLD)
    report("tune", [cases[i] for i in tune], [scores[i] for i in tune], SEMANTIC_THRESHOLD)
    report("test", [cases[i] for i in test], [scores[i] for i in test], SEMANTIC_THRESHOLD)
    if args.errors:
        for case, score in zip(cases, scores):
            if case["conflict"] != (score >= SEMANTIC_THRESHOLD):
                print(
                    f"  wrong ({case['split']}, score {score:.2f}, expected {case['conflict']}): "
                    f"{case['restriction']!r} vs {case['prompt']!r}"
                )

    # Timing: restrictions are cached after first sight (as in the service); prompts vary.
    matcher = RestrictionMatcher()
    restrictions = sorted({c["restriction"] for c in cases})[:5]
    for case in cases[:10]:
        matcher.check(case["prompt"], restrictions)
    for label, restriction_set in (("1 restriction", restrictions[:1]), ("5 restrictions", restrictions)):
        timings = []
        for case in cases:
            start = time.perf_counter()
            matcher.check(case["prompt"], restriction_set)
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        print(
            f"check() with {label}: p50={statistics.median(timings):.2f} ms "
            f"p95={timings[int(0.95 * len(timings)) - 1]:.2f} ms over {len(timings)} prompts"
        )


if __name__ == "__main__":
    main()
