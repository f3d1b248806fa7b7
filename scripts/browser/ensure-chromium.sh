#!/usr/bin/env bash
# ensure-chromium.sh
#
# Makes sure Debian's headless Chromium is installed for the console's browser tests
# (packages/console, driven by playwright-core), then prints its path on stdout.
# Idempotent and safe to run from several test processes at once (the install is serialised on a
# lock). Installs Debian's `chromium-headless-shell` package when no Chromium is found (sudo only
# when not root), the way scripts/s3/ensure-rgw.sh installs Ceph.
#   - STRAND_CHROMIUM=/path/to/chrome skips the search and the install.
# Exit codes: 0 found (path printed), 2 it could not be installed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LOCKS=$ROOT/.browser
mkdir -p "$LOCKS"

find_chromium() {
  if [ -n "${STRAND_CHROMIUM:-}" ] && [ -x "$STRAND_CHROMIUM" ]; then echo "$STRAND_CHROMIUM"; return 0; fi
  # The headless shell first: smaller, no X or GPU libraries needed; then a full Chromium.
  for p in /usr/lib/chromium/chromium-headless-shell /usr/bin/chromium-headless-shell /usr/lib/chromium/chromium /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}

if find_chromium; then exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "ensure-chromium: Chromium is missing and this user is not root and has no sudo;" >&2
    echo "ensure-chromium: run: apt-get install -y --no-install-recommends chromium-headless-shell" >&2
    exit 2
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: Chromium is missing and there is no apt-get on this machine;" >&2
  echo "ensure-chromium: install Chromium by hand and set STRAND_CHROMIUM to its path" >&2
  exit 2
fi
(
  flock -w 600 9 || { echo "ensure-chromium: timed out waiting for another install" >&2; exit 2; }
  if ! find_chromium >/dev/null; then
    echo "ensure-chromium: installing Chromium from Debian packages (about a minute)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2 || { echo "ensure-chromium: apt-get update failed" >&2; exit 2; }
    $SUDO apt-get install -y -qq --no-install-recommends chromium-headless-shell fonts-dejavu-core >&2 \
      || { echo "ensure-chromium: apt-get install failed" >&2; exit 2; }
  fi
) 9>"$LOCKS/install.lock"

find_chromium || { echo "ensure-chromium: installed, but no Chromium binary was found" >&2; exit 2; }
