"""Quality and speed of generation-prompt moderation on the labelled set.

    .venv/bin/python benchmarks/eval_moderation.py [--sweep] [--errors]

Prints overall (blocked vs allowed) and per-category precision/recall on the whole set, the tune
split and the held-out test split, at the thresholds shipped in kinora/moderation/prompts.py.
--sweep picks one shared embedding threshold on the tune split only. Then times `check`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinora.moderation import CASES, CATEGORIES, EMBEDDING_THRESHOLDS, Moderator  # noqa: E402


def load_cases() -> list[dict]:
    return [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]


def precision_recall(pairs: list[tuple[bool, bool]]) -> tuple[float, float]:
    tp = sum(e and p for e, p in pairs)
    fp = sum(p and not e for e, p in pairs)
    fn = sum(e and not p for e, p in pairs)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def predict(moderator: Moderator, cases: list[dict]) -> list[str | None]:
    return [moderator.check(c["prompt"], c["has_cameo"], c["cameo_names"]).category for c in cases]


def report(name: str, cases: list[dict], predicted: list[str | None]) -> None:
    p, r = precision_recall([(c["category"] is not None, got is not None) for c, got in zip(cases, predicted)])
    print(f"{name:<5} n={len(cases):<3} blocked-vs-allowed precision={p:.3f} recall={r:.3f}")
    for category in CATEGORIES:
        pairs = [(c["category"] == category, got == category) for c, got in zip(cases, predicted)]
        cp, cr = precision_recall(pairs)
        print(f"      {category:<17} n={sum(e for e, _ in pairs):<3} precision={cp:.3f} recall={cr:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweep", action="store_true", help="pick the embedding threshold on the tune split")
    parser.add_argument("--errors", action="store_true", help="list misclassified cases")
    args = parser.parse_args()

    cases = load_cases()
    tune = [c for c in cases if c["split"] == "tune"]
    test = [c for c in cases if c["split"] == "test"]

    if args.sweep:
        print("shared embedding threshold sweep on the tune split (blocked vs allowed F1):")
        best = (0.0, 0.0)
        for step in range(40, 81, 2):
            t = step / 100
            pred = predict(Moderator(dict.fromkeys(EMBEDDING_THRESHOLDS, t)), tune)
            p, r = precision_recall([(c["category"] is not None, g is not None) for c, g in zip(tune, pred)])
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            print(f"  {t:.2f} precision={p:.3f} recall={r:.3f} f1={f1:.3f}")
            best = max(best, (f1, t))
        print(f"tune split picks {best[1]:.2f}")

    moderator = Moderator()
    print(f"thresholds {EMBEDDING_THRESHOLDS}")
    predicted = predict(moderator, cases)
    report("all", cases, predicted)
    report("tune", tune, [g for c, g in zip(cases, predicted) if c["split"] == "tune"])
    report("test", test, [g for c, g in zip(cases, predicted) if c["split"] == "test"])
    if args.errors:
        for case, got in zip(cases, predicted):
            if case["category"] != got:
                print(f"  wrong ({case['split']}): expected {case['category']}, got {got}: {case['prompt']!r}")

    for case in cases[:10]:  # warm-up
        moderator.check(case["prompt"])
    timings = []
    for case in cases:
        start = time.perf_counter()
        moderator.check(case["prompt"], case["has_cameo"], case["cameo_names"])
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    print(
        f"check(): p50={statistics.median(timings):.2f} ms p95={timings[int(0.95 * len(timings)) - 1]:.2f} ms "
        f"over {len(timings)} prompts"
    )


if __name__ == "__main__":
    main()
