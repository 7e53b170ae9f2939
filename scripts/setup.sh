#!/usr/bin/env bash
# Installs the project's Python environment (.venv) from uv.lock. Idempotent and quick
# when nothing changed. uv reads .python-version (3.10) and, where that Python is
# missing, downloads it by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen --quiet
