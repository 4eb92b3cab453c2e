#!/usr/bin/env bash
# The ltx2 tests on a CUDA GPU with the tiny random store (docs/ltx2.md, "GPU check").
# Prints, per test: peak GPU memory (allocated / reserved), seconds, outcome, and the
# model's device, dtype and offload. Two passes, about 5 minutes in all on an H100:
#   1. every tests/ltx2 test on CUDA, no offload (test_fullsize_script is CPU-only by design: skipped);
#   2. the storyboard / extend / edit tests again with KINORA_LTX2_CPU_OFFLOAD=model.
# Usage: scripts/ltx2_gpu_check.sh [extra pytest args]   (PYTHON=... to pick the interpreter)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export KINORA_LTX2_TEST_DEVICE=${KINORA_LTX2_TEST_DEVICE:-cuda}
export PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

"$PY" - <<'PY' || { echo "no usable CUDA device: this check needs a GPU" >&2; exit 2; }
import torch, diffusers
assert torch.cuda.is_available()
print(f"torch {torch.__version__} cuda {torch.version.cuda} diffusers {diffusers.__version__} "
      f"GPU {torch.cuda.get_device_name()} {torch.cuda.get_device_properties(0).total_memory / 2**30:.1f} GiB")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true

status=0
echo "== pass 1: tests/ltx2 on $KINORA_LTX2_TEST_DEVICE, offload none"
KINORA_LTX2_TEST_OFFLOAD=none timeout 200 "$PY" -m pytest tests/ltx2 -q -p ltx2_gpu_report \
    --deselect tests/ltx2/test_fullsize_script.py -p no:cacheprovider "$@" || status=$?
echo "== pass 2: storyboard / extend / edit with KINORA_LTX2_CPU_OFFLOAD=model"
KINORA_LTX2_TEST_OFFLOAD=model timeout 100 "$PY" -m pytest tests/ltx2/test_ltx2_shots.py \
    tests/ltx2/test_ltx2_conditioning.py -q -p ltx2_gpu_report -p no:cacheprovider "$@" || status=$?
echo "== done (exit $status; 124 = a pass ran out of time)"
exit $status
