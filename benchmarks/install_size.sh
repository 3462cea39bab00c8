#!/usr/bin/env bash
# Install a checkout into an empty venv; print the site-packages size and the packages.
# Usage: bash benchmarks/install_size.sh <checkout> <venv folder to create>
set -e
src=$1; venv=$2
rm -rf "$venv"; python -m venv "$venv"
start=$(date +%s)
"$venv/bin/pip" install -q "$src" > "$venv.log" 2>&1
end=$(date +%s)
sp=$("$venv/bin/python" -c "import site; print(site.getsitepackages()[0])")
echo "install took $((end-start)) s"
du -sh "$sp"
du -sm "$sp"/* | sort -rn | head -12
"$venv/bin/pip" list 2>/dev/null | grep -i -E "pandas|matplotlib|mlxtend|torch|scipy|skorch" 
"$venv/bin/pip" list 2>/dev/null | wc -l
