#!/usr/bin/env bash
# Installs Debian's RDKit for Python (python3-rdkit: bench/native/screen.py, the native reference of
# `npm run bench -- --only native`) and Open Babel (openbabel) when either is missing. Needs root and
# Debian's package archive; .ci/run calls it before `npm test`. Skips, with a line saying so, where
# apt-get is unavailable. The interpreter is /usr/bin/python3: a python3 earlier on PATH (pyenv's, a
# virtualenv's) does not see Debian's packages.
set -euo pipefail

missing=()
/usr/bin/python3 -c 'import rdkit' >/dev/null 2>&1 || missing+=(python3-rdkit)
command -v obabel >/dev/null 2>&1 || missing+=(openbabel)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get is unavailable: not installing ${missing[*]}" >&2
  exit 0
fi
echo "Installing Debian's ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
/usr/bin/python3 -c 'import rdkit; print("RDKit", rdkit.__version__, "for /usr/bin/python3")'
obabel -V
