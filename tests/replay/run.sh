#!/usr/bin/env bash
# Replay Deckard resolver scenarios against target/debug/dnsward, each in
# its own network namespace (needs root: unshare -n, ip route).
#   tests/replay/run.sh                 # every scenario, validation ones with their trust anchors
#   tests/replay/run.sh 'iter_*'        # scenario name globs
#   tests/replay/run.sh 'val_*'         # the validator scenarios
# Extra options: see `python3 tests/replay/runner.py --help`.
# Exit 1 if a scenario in tests/replay/expected-pass.txt does not pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "tests/replay/run.sh needs root (network namespaces)" >&2
  exit 2
fi
python3 -c 'import dns.message' 2>/dev/null || {
  echo "dnspython missing: python3 -m pip install dnspython" >&2
  exit 2
}
ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 || {
  echo "libfaketime missing: apt-get install -y faketime" >&2
  exit 2
}
test -x target/debug/dnsward || cargo build --quiet
exec python3 tests/replay/runner.py "$@"
