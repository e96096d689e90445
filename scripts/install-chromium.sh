#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report test (test/cli/lipinski-report.e2e.test.ts) when it is
# missing. Needs root and Debian's package archive; .ci/run calls it before `npm test`.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "Chromium is missing: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# A font of our own: without one, a minimal image renders the report's text as empty boxes.
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
