"""pytest plugin for scripts/ltx2_gpu_check.sh: per test (setup + call + teardown, so a
module fixture's generation counts for the first test that uses it), the outcome, the
seconds, the peak CUDA memory allocated and reserved, and the model's device, dtype and
offload; printed as a table and one JSON line per test (prefix `LTX2GPU `)."""

from __future__ import annotations

import json
import time

import pytest
import torch

_rows: list[dict] = []
_outcomes: dict[str, list[str]] = {}
_model: dict = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    yield
    if cuda:
        torch.cuda.synchronize()
    _rows.append(
        {
            "test": item.nodeid,
            "seconds": round(time.monotonic() - started, 2),
            "peak_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
            "peak_reserved_mib": round(torch.cuda.max_memory_reserved() / 2**20, 1) if cuda else None,
        }
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    model = (getattr(item, "funcargs", None) or {}).get("ltx2_model")
    if model is not None and not _model:
        _model.update(
            device=model.device, dtype=model.dtype_name, offload=model.offload, component_dtypes=model.component_dtypes
        )


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        label = report.outcome if report.when == "call" else f"{report.when}:{report.outcome}"
        _outcomes.setdefault(report.nodeid, []).append(label)


def pytest_terminal_summary(terminalreporter):
    write = terminalreporter.write_line
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    write("")
    write(
        f"ltx2 on {_model.get('device')} | dtype {_model.get('dtype')} | offload {_model.get('offload')} | "
        f"component dtypes {_model.get('component_dtypes')} | GPU {gpu}"
    )
    write(f"{'peak alloc MiB':>14} {'reserved MiB':>12} {'s':>7}  outcome  test")
    for row in _rows:
        row.update(
            outcome="/".join(_outcomes.get(row["test"], [])) or "?",
            **{k: _model.get(k) for k in ("device", "dtype", "offload")},
        )
        write(
            f"{row['peak_allocated_mib']!s:>14} {row['peak_reserved_mib']!s:>12} {row['seconds']:>7}  "
            f"{row['outcome']:<7}  {row['test']}"
        )
    for row in _rows:
        write("LTX2GPU " + json.dumps(row))
