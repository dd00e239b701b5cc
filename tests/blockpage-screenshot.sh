#!/usr/bin/env bash
# blockpage-screenshot.sh: headless Chromium screenshots of the block page,
# in English and Vietnamese, for docs/blockpage-{en,vi}.png. Not run in CI.
#
# Usage (from anywhere; Debian `chromium`, `apt-get install -y chromium`):
#   tests/blockpage-screenshot.sh [OUT_DIR]     # default: <repo>/docs
#
# It starts dnsward (target/debug/dnsward, built if missing) with a block
# page on 127.0.0.1:$PORT and a list blocking blocked.example, then opens
# http://blocked.example/ in Chromium with the name mapped to that loopback
# port (--host-resolver-rules), since a browser cannot be told a Host
# header directly. Every request goes to loopback; Chromium's own
# background traffic is switched off and its profile is a new empty
# directory removed at the end.
#
# Environment: PORT [18451], DNSWARD [<repo>/target/debug/dnsward],
# CHROMIUM [chromium].
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/docs}"
port="${PORT:-18451}"
dnsward="${DNSWARD:-$repo/target/debug/dnsward}"
chromium="${CHROMIUM:-chromium}"
[ -x "$dnsward" ] || (cd "$repo" && cargo build --bin dnsward)

work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

printf 'blocked.example\n' > "$work/court.txt"
cat > "$work/dnsward.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
[metrics]
listen = ""
[resolver]
mode = "forward"
upstreams = ["127.0.0.1:9"]
[reload]
watch = false
[blockpage]
listen = ["127.0.0.1:$port"]
authority_url = "https://authority.example/orders/17-2024"
appeal = "Apply to the People's Court of Hanoi within 30 days to vary or discharge this order."
[[lists]]
name = "court-17-2024"
path = "court.txt"
description = "Unlicensed online gambling sites"
order_id = "17/2024/QD-TA"
TOML

"$dnsward" run --config "$work/dnsward.toml" > "$work/dnsward.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  curl -s -o /dev/null -H 'Host: blocked.example' "http://127.0.0.1:$port/" && break
  sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: blocked.example' "http://127.0.0.1:$port/" || true)
[ "$status" = 451 ] || { cat "$work/dnsward.log" >&2; echo "expected 451, got $status" >&2; exit 1; }

shot() { # LANG FILE
  local profile
  profile="$(mktemp -d)"
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --hide-scrollbars \
    --user-data-dir="$profile" --lang="$1" --accept-lang="$1" \
    --host-resolver-rules="MAP blocked.example 127.0.0.1:$port, EXCLUDE localhost" \
    --window-size=1000,700 --screenshot="$2" "http://blocked.example/" \
    > "$work/chromium-$1.log" 2>&1
  rm -rf "$profile"
  [ -s "$2" ] || { cat "$work/chromium-$1.log" >&2; echo "no screenshot $2" >&2; exit 1; }
  echo "$2"
}
mkdir -p "$out"
shot en "$out/blockpage-en.png"
shot vi "$out/blockpage-vi.png"
