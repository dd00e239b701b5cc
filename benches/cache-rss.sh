#!/usr/bin/env bash
# Resident memory of the answer cache in the running server.
#
# docs/configuration.md gives the cost of a cached answer from the
# heap count of `cargo bench --bench cache_memory`; an operator sizing
# `cache.max_entries` needs what the process actually holds (allocator
# overhead included), and whether it stays put while answers expire and
# are refreshed. This script:
#   1. starts an NSD hierarchy on loopback (`.` -> `zz.` -> `bench.zz.`,
#      NAMES A records; benches/load/lib.sh) and `dnsward run` (release
#      build, recursive from it, no list, `max_ttl_secs = TTL`);
#   2. fill: queries every name once with dnsperf, in three steps, and
#      prints VmRSS and `dnsward_cache_entries` after each: the slope is
#      the resident bytes per cached answer;
#   3. churn (CHURN_ROUNDS > 0): re-queries all the names in a loop
#      at CHURN_QPS for CHURN_ROUNDS rounds of 30 s, so every answer
#      expires and is refreshed many times over a constant entry count,
#      and prints VmRSS after each round: growth there would be a leak or
#      unbounded fragmentation.
#
# Usage (as root, NSD binds 127.0.N.1-3:53):
#   benches/cache-rss.sh
#   NAMES=20000 TTL=5 CHURN_ROUNDS=8 benches/cache-rss.sh
# Environment [defaults]: NAMES [60000] TTL [3600] CHURN_ROUNDS [0]
#   CHURN_QPS [3000] SERVER_CPU [0] LOAD_CPU [1]
#
# Loopback only (127.0.0.0/8); every dnsperf run is bounded in count or
# time; every process started is stopped by its PID on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=benches/load/lib.sh
source "$REPO/benches/load/lib.sh"

NAMES=${NAMES:-60000}
TTL=${TTL:-3600}
CHURN_ROUNDS=${CHURN_ROUNDS:-0}
CHURN_QPS=${CHURN_QPS:-3000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
((NAMES >= 3 && NAMES <= 1000000)) || die "NAMES must be 3..1000000"
((TTL >= 1)) || die "TTL must be >= 1"
((CHURN_ROUNDS >= 0 && CHURN_ROUNDS <= 120)) || die "CHURN_ROUNDS must be 0..120"
((CHURN_QPS >= 1 && CHURN_QPS <= 50000)) || die "CHURN_QPS must be 1..50000"
# Read by make_zones in lib.sh.
export ZONE_NAMES=$NAMES CNAMES=0

ensure_packages nsd:nsd dnsperf:dnsperf dig:dnsutils curl:curl taskset:util-linux ss:iproute2
WORK=$(mktemp -d /tmp/cache-rss.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/q"
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$REPO" && cargo build --release --quiet)
DNSWARD=$WORK/dnsward
cp "$REPO/target/release/dnsward" "$DNSWARD"
NET=$(pick_loopback_net)
ROOT_IP=127.0.$NET.1 TLD_IP=127.0.$NET.2 LEAF_IP=127.0.$NET.3
make_zones "$WORK/zones"
start_nsd root . "$ROOT_IP" "$WORK/zones/root.zone"
start_nsd tld zz. "$TLD_IP" "$WORK/zones/zz.zone"
start_nsd leaf bench.zz. "$LEAF_IP" "$WORK/zones/bench.zz.zone"
write_dnsward_conf "$WORK/dnsward.toml" 0 "max_ttl_secs = $TTL
negative_max_ttl_secs = $TTL"
start_dnsward cache "$WORK/dnsward.toml"

sample() { # sample LABEL: one line of VmRSS (KiB) and cached answers
  local rss entries
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$DW_PID/status")
  scrape "$WORK/logs/metrics.txt"
  entries=$(metric_sum "$WORK/logs/metrics.txt" dnsward_cache_entries)
  printf '%-14s rss_kib %8d  answers %8d\n' "$1" "$rss" "$entries"
}

sample start
for step in 1 2 3; do
  from=$((NAMES * (step - 1) / 3)) to=$((NAMES * step / 3))
  awk -v a="$from" -v b="$to" 'BEGIN { for (i = a; i < b; i++) printf "h%d.bench.zz A\n", i }' >"$WORK/q/step$step.txt"
  timeout 300 taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$WORK/q/step$step.txt" \
    -n 1 -Q 4000 -c 4 -q 500 -t 5 -e >"$WORK/logs/fill$step.txt" 2>&1 || true
  grep -E 'Queries (sent|completed)' "$WORK/logs/fill$step.txt" | tr -s ' ' | paste -sd ';' -
  sleep 2
  sample "filled_$to"
done
cat "$WORK"/q/step[123].txt >"$WORK/q/all.txt"
for ((r = 1; r <= CHURN_ROUNDS; r++)); do
  timeout 60 taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$WORK/q/all.txt" \
    -l 30 -Q "$CHURN_QPS" -c 4 -q 500 -t 5 -e >"$WORK/logs/churn$r.txt" 2>&1 || true
  sample "churn_$((r * 30))s"
done
