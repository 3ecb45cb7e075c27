#!/usr/bin/env bash
# Creates (or brings up to date) the Python environment the host jobs and the round test run in:
#   bash workers/host/setup-venv.sh [DIR]        (default: $PAIRWISE_HOST_VENV, else .venv at the repository root)
# A stamp of requirements.txt skips the install when nothing changed. Where pip's configured
# index is a local mirror (PIP_INDEX_URL, or a file:// index in pip's config) it is used as is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$(realpath -m "${1:-${PAIRWISE_HOST_VENV:-$here/../../.venv}}")"
requirements="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "host venv $venv is up to date"
  exit 0
fi
python3 -m venv "$venv"
args=(--disable-pip-version-check --quiet)
# An offline machine whose pip lists a local index only as an extra one would still try the
# unreachable default index for every package: make the local one the index.
if [ -z "${PIP_INDEX_URL:-}" ]; then
  local_index="$(pip config list 2>/dev/null | sed -n "s/^global.extra-index-url='\(file:[^ ']*\).*/\1/p" | head -n1)"
  [ -n "$local_index" ] && args+=(--index-url "$local_index")
fi
"$venv/bin/pip" install "${args[@]}" -r "$requirements"
echo "$want" > "$stamp"
echo "host venv $venv ready: $("$venv/bin/python" -c 'import trl, transformers, torch; print("trl", trl.__version__, "transformers", transformers.__version__, "torch", torch.__version__)')"
