"""`make demo`: start the local stack, check every component is serving,
and stop it cleanly. (The gateway issue grows this into the whole story.)"""

from __future__ import annotations

from pathlib import Path

from kinora.stack.local import LocalStack, StackError, check_component


def run_demo(home: Path) -> int:
    stack = LocalStack(home)
    try:
        state = stack.start()
    except StackError as exc:
        print(f"demo: {exc}")
        return 1
    try:
        bad = 0
        for comp in state.components:
            ok, detail = check_component(comp)
            bad += not ok
            print(f"  {comp.name:<22} {detail}")
        print(f"demo: {len(state.components) - bad}/{len(state.components)} components serving")
        return 1 if bad else 0
    finally:
        stack.stop()
