#!/usr/bin/env bash
# tests/deploy/render-graph.sh [OUT_PNG]: a picture of the Grafana dashboard's
# panels for the README (default docs/dashboard.png), not part of CI.
#
# Starts the live stack of tests/deploy/lib.sh (NSD hierarchy, dnsward,
# Prometheus on loopback), sends ROUNDS (default 4) rounds of its bounded
# traffic ROUND_SECS (default 15) apart, draws every panel of
# deploy/grafana/dnsward.json from Prometheus' query_range API as SVG
# (tests/deploy/render_panels.py), and screenshots that page with headless
# Chromium (apt-get install -y chromium).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/deploy/lib.sh
source "$HERE/lib.sh"
OUT=${1:-$REPO/docs/dashboard.png}
ROUNDS=${ROUNDS:-4}
ROUND_SECS=${ROUND_SECS:-15}
((ROUNDS >= 1 && ROUNDS <= 4)) || die "ROUNDS must be 1..4 (60 new names per round, 300 in the zone)"
((ROUND_SECS >= 2 && ROUND_SECS <= 120)) || die "ROUND_SECS must be 2..120"
command -v chromium >/dev/null || die "chromium not found (apt-get install -y chromium)"

WORK=$(mktemp -d /tmp/dnsward-render.XXXXXX)
trap deploy_cleanup EXIT
trap 'exit 130' INT TERM
live_stack
t0=$(date +%s)
for ((r = 0; r < ROUNDS; r++)); do
  live_traffic $((r * 60))
  sleep "$ROUND_SECS"
done
python3 "$HERE/render_panels.py" "http://127.0.0.1:$PROM_PORT" "$REPO/deploy/grafana/dnsward.json" \
  "$WORK/dashboard.html" $(($(date +%s) - t0 + 10))
mkdir -p "$WORK/chromium" "$(dirname "$OUT")"
# Only file:// is loaded; every background fetch is off.
timeout -k 5 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$WORK/chromium" --hide-scrollbars --window-size=1420,3520 \
  --screenshot="$OUT" "file://$WORK/dashboard.html" >"$WORK/logs/chromium.log" 2>&1 ||
  die "chromium failed: $(tail -n 5 "$WORK/logs/chromium.log")"
log "wrote $OUT"
