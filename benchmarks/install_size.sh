#!/usr/bin/env bash
# The size of a fresh install: the training install (pip install <checkout>), or with "deploy" the install
# that predicts from exported ONNX models, without torch: the package without its requirements, then
# numpy, ONNX Runtime and Pillow. Prints the site-packages size, its largest folders and the packages.
# Usage: bash benchmarks/install_size.sh <checkout> <venv folder to create> [deploy]
set -e
src=$1; venv=$2; mode=${3:-train}
rm -rf "$venv"; python -m venv "$venv"
start=$(date +%s)
if [ "$mode" = deploy ]; then
  "$venv/bin/pip" install -q --no-deps "$src" > "$venv.log" 2>&1
  "$venv/bin/pip" install -q numpy onnxruntime pillow >> "$venv.log" 2>&1
else
  "$venv/bin/pip" install -q "$src" > "$venv.log" 2>&1
fi
end=$(date +%s)
sp=$("$venv/bin/python" -c "import site; print(site.getsitepackages()[0])")
echo "mode $mode; install took $((end-start)) s"
du -sh "$sp"
du -sm "$sp"/* | sort -rn | head -12
"$venv/bin/pip" list 2>/dev/null | grep -i -E "torch|skorch|scikit|onnx|numpy|pillow"
"$venv/bin/pip" list 2>/dev/null | tail -n +3 | wc -l
