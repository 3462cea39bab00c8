#!/usr/bin/env bash
# One prepared GPU session (for the lent device): GPU tests, fit/predict throughput
# against a plain loop, the ResNet rows of the accuracy benchmark, then the
# defaults sweep. Each step has its own time limit; results land in $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-benchmarks/results}
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, torchvision, sklearn, skorch; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'sklearn', sklearn.__version__, 'skorch', skorch.__version__)"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -5
timeout "${THROUGHPUT_SECONDS:-150}" python3 benchmarks/gpu_throughput.py --device cuda 2>&1 | tee "$OUT/throughput.log" | tail -6
timeout "${RESNET_SECONDS:-250}" python3 benchmarks/accuracy.py run resnet resnet_ema --device cuda --mnist .mnist \
  --resnet-depth 50 --epochs "${RESNET_EPOCHS:-20}" --results "$OUT" --no-figures --verbose 1 2>&1 | tee "$OUT/resnet.log" | grep -E "^==|row|Error|error" 
timeout "${SWEEP_SECONDS:-200}" python3 benchmarks/tune_defaults.py --device cuda --results "$OUT" 2>&1 | tee "$OUT/sweep.log" | tail -15
