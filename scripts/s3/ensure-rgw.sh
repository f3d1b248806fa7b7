#!/usr/bin/env bash
# ensure-rgw.sh [DATA_DIR] [PORT]
#
# Makes sure a throw-away Ceph RADOS Gateway (S3 with enforced conditional writes) runs on
# 127.0.0.1:PORT for the store-s3 integration tests, then prints its env lines
# (S3_ENDPOINT=..., AWS_ACCESS_KEY_ID=..., ...). Idempotent: when the cluster is already up it
# only prints the env, so every test process may call it.
#   - installs Debian's packages when a binary is missing (sudo only when not root);
#   - DATA_DIR defaults to <repo>/.rgw/cluster (gitignored; locks live beside it), PORT to $STRAND_RGW_PORT or 7480
#     (PORT and PORT+1 must stay outside 6800-7300, where the OSD binds).
# Exit codes: 0 up, 2 packages could not be installed, 1 the cluster did not start.
# Stop it with scripts/s3/stop-rgw.sh DATA_DIR [--purge].
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA=${1:-$ROOT/.rgw/cluster}
PORT=${2:-${STRAND_RGW_PORT:-7480}}
LOCKS=$(dirname "$DATA")/locks
mkdir -p "$LOCKS"

if [ "$PORT" -ge 6799 ] && [ "$PORT" -le 7300 ]; then
  echo "ensure-rgw: port $PORT (and $((PORT + 1))) must be outside 6800-7300" >&2
  exit 1
fi

missing=0
for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph uuidgen curl; do
  command -v "$b" >/dev/null 2>&1 || missing=1
done

if [ "$missing" = 1 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "ensure-rgw: Ceph packages are missing and this user is not root and has no sudo;" >&2
      echo "ensure-rgw: run: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common curl uuid-runtime" >&2
      exit 2
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-rgw: Ceph packages are missing and there is no apt-get on this machine;" >&2
    echo "ensure-rgw: install radosgw, ceph-mon, ceph-osd, ceph-common, curl and uuidgen by hand" >&2
    exit 2
  fi
  # Two processes may get here at once: serialise the install on a lock next to the data dir.
    (
    flock -w 600 9 || { echo "ensure-rgw: timed out waiting for another install" >&2; exit 2; }
    if ! command -v radosgw >/dev/null 2>&1 || ! command -v ceph-mon >/dev/null 2>&1 || ! command -v uuidgen >/dev/null 2>&1; then
      echo "ensure-rgw: installing Ceph RGW from Debian packages (about 30 s)..." >&2
      export DEBIAN_FRONTEND=noninteractive
      $SUDO apt-get update -qq >&2 || { echo "ensure-rgw: apt-get update failed" >&2; exit 2; }
      $SUDO apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd ceph-common curl uuid-runtime >&2 \
        || { echo "ensure-rgw: apt-get install failed" >&2; exit 2; }
    fi
  ) 9>"$LOCKS/install.lock"
fi

# Serialise starts too: two test processes starting the same cluster would wipe each other.
exec 9>"$LOCKS/start.lock"
flock -w 300 9 || { echo "ensure-rgw: timed out waiting for another start" >&2; exit 1; }
# 9>&-: the daemons must not inherit (and so hold forever) the lock.
"$HERE/start-rgw.sh" "$DATA" "$PORT" 9>&-
