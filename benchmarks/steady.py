"""Figures that must hold at steady state: the feed, consent, billing and gateway benchmarks run
back to back, each several times, summarised in one markdown table.

    .venv/bin/python benchmarks/steady.py [--runs 5] [--only feed cameo billing gateway] [--quick]
    make steady                                   # the same, --quick via STEADY_ARGS=--quick

Each benchmark runs as it would by hand and its own output is parsed (and kept under --logs):
- feed: benchmarks/feed_bench.py, --runs processes one after the other on the same database
  (--feed-database, made by feed_datagen.py; --quick generates a small one if it is missing), once
  for a viewer's next pages (all from kept rankings) and once for sessions of 10 pages
  (--pages-per-session 10: one page in ten ranked); CPU is the whole machine's per GetFeed
  (servers + PostgreSQL + client);
- consent: benchmarks/cameo_bench.py with --rounds --runs and --modes check client batch8, one row
  per mode (CheckUse per check; ConsentClient sharing calls; BatchCheckUse 8 a call); CPU is the
  cameo server's per check;
- billing: benchmarks/billing_bench.py reserve with --repeat --runs; CPU is the server's per call;
- gateway: benchmarks/gateway_bench.py, --runs processes quiet and --runs with two busy processes
  beside it (load average ~3); the gateway as its own process, timed with a lean HTTP client; p99
  is not printed by it, so the column shows its p95 (marked), and the notes its p50 overhead (and
  httpx's); CPU is the gateway process's per proxied call, read from /proc.
A figure is the median over runs; a value a benchmark did not print shows as "n/a".
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
NUM = r"([0-9]+(?:\.[0-9]+)?)"


def run(cmd: list[str], log: Path, timeout: float) -> str:
    """One benchmark process; its output (stdout and stderr) is returned and written to `log`."""
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        out, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as e:
        out, code = f"{e.stdout or ''}{e.stderr or ''}\n(timed out after {timeout:.0f} s)", -1
    log.write_text(f"$ {' '.join(cmd)}\n(exit {code}, {time.perf_counter() - started:.0f} s)\n{out}")
    if code != 0:
        print(f"  {cmd[1]} exited {code}; output in {log}", file=sys.stderr)
    return out


def numbers(pattern: str, text: str) -> list[float]:
    return [float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE)]


def parse_feed(outputs: list[str]) -> dict:
    text = "\n".join(outputs)
    candidates = _median(numbers(r"stage candidates\s+p50\s+" + NUM + " ms", text))
    blocks = _median(numbers(r"PostgreSQL \(window\)\s+blocks hit " + NUM + "/request", text))
    notes = [
        f"stage candidates p50 {candidates:.1f} ms" if candidates is not None else "",
        f"PostgreSQL blocks hit {blocks:.0f}/request" if blocks is not None else "",
    ]
    return dict(
        cpu=numbers(r"CPU per request .*whole machine " + NUM + " ms", text),
        p99=numbers(r"end-to-end \(client\).*p99\s+" + NUM + " ms", text),
        notes=[n for n in notes if n],
    )


def parse_cameo(outputs: list[str]) -> list[dict]:
    """One row per way of reaching cameo (cameo_bench --modes): its rounds' server CPU per check and p99."""
    text = "\n".join(outputs)
    rows = []
    for m in re.finditer(
        r"^\[(?:[^\]]*?replica\(s\), )?([^\]]*)\] cameo server CPU per check, median of \d+ rounds: "
        r"[0-9.]+ ms \(rounds: ([0-9., ]+);",
        text,
        re.MULTILINE,
    ):
        mode = m.group(1)
        p99 = re.search(
            r"^\[[^\]]*" + re.escape(mode) + r"\] CheckUse p99 at .*?\(rounds: ([0-9., ]+);", text, re.MULTILINE
        )
        batched = re.search(r"ConsentClient \[" + re.escape(mode) + r"\]: .*?\(([0-9.]+) per call", text)
        notes = ["server CPU only", *([f"{batched.group(1)} checks per call"] if batched else [])]
        rows.append(
            dict(
                figure=f"CheckUse (consent), {mode}",
                cpu=[float(v) for v in m.group(2).split(", ")],
                p99=[float(v) for v in p99.group(1).split(", ")] if p99 else [],
                notes=notes,
            )
        )
    if not rows:  # an older cameo_bench: every round's CPU line, one row
        rounds = re.findall(r"^\[[^\]]*round \d+\] CheckUse.*\n\s+latency ms:.*?p99 " + NUM, text, re.MULTILINE)
        rows.append(
            dict(
                figure="CheckUse (consent)",
                cpu=numbers(r"cameo server CPU per check \(.*?\): " + NUM + " ms", text),
                p99=[float(v) for v in rounds],
                notes=["server CPU only"],
            )
        )
    return rows


def parse_billing(outputs: list[str]) -> dict:
    text = "\n".join(outputs)
    return dict(
        cpu=numbers(r"CPU per call: client [0-9.]+ ms, server " + NUM + " ms", text),
        p99=numbers(r"Reserve at .* p99 " + NUM + " ms", text),
        notes=["server CPU only"],
    )


def parse_gateway(outputs: list[str]) -> dict:
    """The gateway as its own process, timed with a lean HTTP client (httpx's figure in the notes)."""
    text = "\n".join(outputs)
    own = numbers(r"^gateway process adds (-?[0-9.]+) ms at p50", text)
    httpx = _median(numbers(r"^gateway process adds .*; (-?[0-9.]+) ms with httpx", text))
    load = _median(numbers(r"^gateway process CPU per proxied call: .*machine load average ([0-9.]+)", text))
    return dict(
        cpu=numbers(r"^gateway process CPU per proxied call: " + NUM + " ms", text),
        p99=numbers(r"^gateway process\s+n=.*p95=\s*" + NUM + " ms", text),
        p99_is="p95",
        notes=[
            f"adds **{_median(own):.2f} ms** at p50 (runs: {', '.join(f'{v:.2f}' for v in own)}; target <= 2 ms)"
            if own
            else "no p50 gap printed",
            *([f"{httpx:.2f} ms with httpx as the client"] if httpx is not None else []),
            *([f"load average {load:.1f} at the end"] if load is not None else []),
            "CPU: the gateway process's per proxied call",
        ],
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def feed_database(args, logs: Path) -> str:
    """The feed benchmark's database; --quick makes a small one when it does not exist."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    from kinora.testing import admin_dsn

    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.feed_database,)).fetchone()
    if not exists:
        if not args.quick:
            raise SystemExit(
                f"no database {args.feed_database}: run benchmarks/feed_datagen.py --database "
                f"{args.feed_database} first (or --quick)"
            )
        run(
            [
                PY,
                "benchmarks/feed_datagen.py",
                "--users",
                "3000",
                "--posts",
                "30000",
                "--follows",
                "300000",
                "--embedded-posts",
                "6000",
                "--database",
                args.feed_database,
            ],
            logs / "feed_datagen.log",
            900,
        )
    return args.feed_database


def bench_feed(args, logs: Path) -> list[dict]:
    """Two rows: a viewer's next pages (each viewer asked once before the window, so every page
    in it comes from a kept ranking), and sessions of 10 pages (one page in ten ranked)."""
    db = feed_database(args, logs)
    load = (
        ["--rate", "50", "--seconds", "5", "--servers", "1", "--viewers", "200"]
        if args.quick
        else ["--rate", "200", "--seconds", "20", "--servers", "2"]
    )
    rows = []
    for label, extra, tag in (
        ("next pages (kept ranking)", [], "feed"),
        ("sessions of 10 pages (1 in 10 ranked)", ["--pages-per-session", "10"], "feed_sessions"),
    ):
        outs = [
            run([PY, "benchmarks/feed_bench.py", "--database", db, *load, *extra], logs / f"{tag}_{k + 1}.log", 900)
            for k in range(args.runs)
        ]
        rows.append(dict(figure=f"GetFeed, {label}, whole machine (servers + PostgreSQL + client)", **parse_feed(outs)))
    return rows


# One CheckUse per check (a caller as before), ConsentClient (the generator's and feed's client:
# checks made at the same time share BatchCheckUse calls) and batches of 8 (a caller with many).
CAMEO_MODES = ("check", "client", "batch8")


def bench_cameo(args, logs: Path) -> list[dict]:
    load = (
        [
            "--rate",
            "200",
            "--seconds",
            "3",
            "--cameos",
            "5000",
            "--approvals",
            "50000",
            "--users",
            "20000",
            "--follows",
            "20000",
            "--restricted",
            "50",
            "--restricted-rate",
            "10",
        ]
        if args.quick
        else ["--rate", "1000", "--seconds", "10"]
    )
    out = run(
        [PY, "benchmarks/cameo_bench.py", *load, "--rounds", str(args.runs), "--also-rates", "--modes", *CAMEO_MODES],
        logs / "cameo.log",
        1800,
    )
    return parse_cameo([out])


def bench_billing(args, logs: Path) -> dict:
    load = ["--rate", "100", "--seconds", "3", "--users", "50"] if args.quick else ["--rate", "500", "--seconds", "10"]
    out = run(
        [PY, "benchmarks/billing_bench.py", "reserve", *load, "--repeat", str(args.runs)], logs / "billing.log", 1800
    )
    return dict(figure="Reserve (billing)", **parse_billing([out]))


def bench_gateway(args, logs: Path) -> list[dict]:
    """Quiet, then with two other processes keeping the CPUs busy (load average ~3 on 2 cores)."""
    load = ["--seconds", "2", "--rate", "100"] if args.quick else ["--seconds", "8"]
    rows = []
    for busy, label in ((0, "quiet"), (2, "2 busy processes beside it")):
        outs = [
            run(
                [PY, "benchmarks/gateway_bench.py", *load, "--busy", str(busy)],
                logs / f"gateway_busy{busy}_{k + 1}.log",
                900,
            )
            for k in range(args.runs)
        ]
        rows.append(dict(figure=f"GetGeneration through the gateway, {label}", **parse_gateway(outs)))
    return rows


BENCHES = {"feed": bench_feed, "cameo": bench_cameo, "billing": bench_billing, "gateway": bench_gateway}


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=ROOT).returncode != 0
    return head.stdout.strip() + (" (+ uncommitted changes)" if dirty else "")


def table(rows: list[dict], measured: str) -> str:
    def fmt(values: list[float], digits: int = 2) -> str:
        return f"{statistics.median(values):.{digits}f} ms" if values else "n/a"

    lines = [
        "| figure | CPU per request (median) | p99 (median) | runs | commit | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        p99 = fmt(r["p99"], 1)
        if r.get("p99_is") and r["p99"]:
            p99 = f"{r['p99_is']} {p99}"
        runs = max(len(r["cpu"]), len(r["p99"]))
        lines.append(f"| {r['figure']} | {fmt(r['cpu'])} | {p99} | {runs} | {measured} | {'; '.join(r['notes'])} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=0, help="runs of each benchmark (default 5; 2 with --quick)")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), default=list(BENCHES))
    ap.add_argument("--quick", action="store_true", help="small data and short runs: a few minutes in all")
    ap.add_argument("--feed-database", default="", help="default kinora_feed_bench (--quick: kinora_feed_steady)")
    ap.add_argument("--logs", default="", help="folder for each benchmark's output (default: a new temporary one)")
    args = ap.parse_args()
    args.runs = args.runs or (2 if args.quick else 5)
    args.feed_database = args.feed_database or ("kinora_feed_steady" if args.quick else "kinora_feed_bench")
    logs = Path(args.logs or tempfile.mkdtemp(prefix="kinora_steady_"))
    logs.mkdir(parents=True, exist_ok=True)
    measured = commit()
    rows = []
    for name in args.only:
        started = time.perf_counter()
        print(f"{name}: {args.runs} run(s)...", file=sys.stderr, flush=True)
        made = BENCHES[name](args, logs)
        rows += made if isinstance(made, list) else [made]
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(table(rows, measured))
    print(f"\n(outputs in {logs}{'; --quick settings' if args.quick else ''})")


if __name__ == "__main__":
    main()
