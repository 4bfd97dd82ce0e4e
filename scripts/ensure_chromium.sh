#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the browser end-to-end test drives it through
# Playwright (executable_path=/usr/bin/chromium; Playwright's own browser downloads are never used).
# Idempotent and quiet when Chromium is already there. Set AURA_CHROMIUM to use another binary.
set -euo pipefail

chromium="${AURA_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$chromium" ]]; then
    exit 0
fi
if [[ -n "${AURA_CHROMIUM:-}" ]]; then
    echo "AURA_CHROMIUM=$chromium is not an executable file." >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "Chromium is missing at $chromium and there is no apt-get here: install Chromium" \
        "and set AURA_CHROMIUM=/path/to/chromium for the browser test." >&2
    exit 1
fi
sudo=""
if [[ "$(id -u)" != "0" ]]; then
    if ! command -v sudo >/dev/null; then
        echo "Chromium is missing and installing it needs root: run" \
            "'apt-get install -y chromium' as root." >&2
        exit 1
    fi
    sudo="sudo"
fi
echo "==> Installing Debian's chromium for the browser end-to-end test (apt-get install -y chromium)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "==> Installed $("$chromium" --version 2>/dev/null || echo chromium)"
