#!/usr/bin/env bash
# Headless Chromium for the docs-site browser test (Debian's package; we are root in CI).
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing chromium (docs-site browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is missing and cannot be installed without root/apt-get: install it to run the docs browser test" >&2
  exit 1
fi
