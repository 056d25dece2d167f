#!/usr/bin/env bash
# Debian's Chromium for the docs pages' browser test (tests/ui): installed once through apt,
# quietly, when missing. Playwright drives this executable; no test tool downloads a browser.
#
# Usage: deploy/local/chromium.sh   (prints nothing when Chromium is already there)
set -euo pipefail

log() { printf 'chromium.sh: %s\n' "$*" >&2; }

command -v chromium >/dev/null 2>&1 && exit 0
command -v apt-get >/dev/null 2>&1 || { log "chromium not found and no apt-get: tests/ui will be skipped"; exit 0; }
SUDO=()
((EUID == 0)) || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
install() { "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
log "installing Debian's chromium ..."
# The package lists may be missing or stale on a fresh machine: update once, then retry.
install 2>/dev/null || { "${SUDO[@]}" apt-get update -qq && install; }
command -v chromium >/dev/null 2>&1 || { log "error: chromium not found after the install"; exit 1; }
