#!/usr/bin/env bash
# Headless Chromium for the docs-site browser test (Debian's package; root in CI).
# Without root/apt it only warns: the browser test then skips, except under CI=true.
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing chromium (docs-site browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "warning: chromium is missing and cannot be installed without root/apt-get;" \
    "the docs browser test will be skipped (install chromium to run it)" >&2
fi
