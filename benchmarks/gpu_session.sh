#!/usr/bin/env bash
# One prepared GPU session (for the lent device): GPU tests, fit/predict
# throughput against a plain loop, then the cross-validated variant sweep
# (benchmarks/fold_sweep.py) on 8 worker processes sharing the GPU. Each step
# has its own time limit; results land in $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-benchmarks/results}
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
nproc
python3 -c "import torch, torchvision, sklearn, skorch; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'sklearn', sklearn.__version__, 'skorch', skorch.__version__)"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -5
timeout "${THROUGHPUT_SECONDS:-90}" python3 benchmarks/training_step.py --device cuda --batch-size 256 --n-samples 10000 --models digitnet_w32 resnet50_sum resnet50_heads 2>&1 | tee "$OUT/throughput.log" | tail -6
timeout "${SWEEP_SECONDS:-420}" python3 benchmarks/fold_sweep.py --device cuda --workers "${SWEEP_WORKERS:-8}" \
  --deadline "${SWEEP_DEADLINE:-300}" --results "$OUT/fold_sweep" 2>&1 | tee "$OUT/sweep.log" | tail -14
