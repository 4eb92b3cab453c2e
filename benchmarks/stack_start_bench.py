"""`kinora up` start time: the whole local stack (embedded PostgreSQL, Tansu,
Triton with worldsim, every service, a worker, the gateway) from nothing to
every component serving, started several times on one KINORA_HOME. The first
start includes initdb and every migration; later ones restart on the kept data.
Target: <= 20 s on a warm venv.

    .venv/bin/python benchmarks/stack_start_bench.py [--starts 4]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinora.stack.local import DEFAULT_PORTS, LocalStack  # noqa: E402
from kinora.stack.tansu import free_port  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=4)
    args = ap.parse_args()
    env = dict(os.environ, KINORA_METRICS_BASE_PORT="0")
    for name in DEFAULT_PORTS:
        env[f"KINORA_{name.upper().replace('-', '_')}_PORT"] = str(free_port())
    home = Path(tempfile.mkdtemp(prefix="kinora-start-bench-"))
    times = []
    for i in range(args.starts):
        stack = LocalStack(home, env=env, log=lambda *_: None)
        started = time.monotonic()
        try:
            stack.start()
            times.append(time.monotonic() - started)
        finally:
            stack.stop()
        print(
            f"start {i + 1}{' (initdb, migrations)' if i == 0 else ''}: {times[-1]:.1f} s "
            f"to {len(stack.state.components)} components serving",
            flush=True,
        )
    print(f"restarts median {statistics.median(times[1:] or times):.1f} s, first {times[0]:.1f} s (target <= 20 s)")


if __name__ == "__main__":
    main()
