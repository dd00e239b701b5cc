#!/usr/bin/env bash
# cold-profile.sh: CPU cost of dnsward per cold-recursion query, measured in
# ways the noise of a shared machine does not move much.
#
# Usage (as root):
#   benches/cold-profile.sh callgrind   # instructions per query (valgrind)
#   benches/cold-profile.sh perf        # perf profile (cpu-clock) of the PID
#
# It builds the same loopback NSD hierarchy as dns-load.sh (sourcing its
# functions), starts target/release/dnsward (built if missing) with the
# same config, teaches it the zone cuts with two names, and then sends a
# bounded, low-rate load of names never asked before (dnsperf -Q RATE,
# RATE x DURATION names, each once), each answered by one upstream query
# to the leaf zone.
#
#   callgrind: dnsward runs under `valgrind --tool=callgrind`; the counters
#     are zeroed just before the load and dumped just after it, so the
#     result is instructions (Ir) per completed query for the load alone
#     (idle wake-ups included, a few per second), and the same without the
#     runtime worker's parking (which varies with timing, not code), and
#     the query's normal-path task alone (steadiest across runs). The
#     top functions by inclusive and self cost are kept (callgrind_annotate).
#   perf: `perf record -e cpu-clock -g` on the dnsward PID during the load
#     (this VM has no hardware counters); prints the top self-cost symbols
#     and the kernel/userland split.
#
# Environment: RATE [300] qps, DURATION [10] s, ZONE_NAMES [100000],
# DNSWARD [<repo>/target/release/dnsward], SERVER_CPU [0], LOAD_CPU [1],
# OUT [a new mktemp dir] where the raw profile is kept.
# Safety: loopback only; every process started here is stopped by PID.
set -euo pipefail

MODE=${1:-callgrind}
case "$MODE" in callgrind | perf) ;; *)
  echo "usage: $0 [callgrind|perf]" >&2
  exit 2
  ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=benches/load/lib.sh
source "$HERE/load/lib.sh"

RATE=${RATE:-300}
DURATION=${DURATION:-10}
ZONE_NAMES=${ZONE_NAMES:-100000}
CNAMES=${CNAMES:-10}
HOT_NAMES=${HOT_NAMES:-10}
DNSWARD=${DNSWARD:-$REPO/target/release/dnsward}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
for v in RATE DURATION ZONE_NAMES SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
((DURATION >= 1 && DURATION <= 120)) || die "DURATION must be 1..120"
((RATE * DURATION < ZONE_NAMES - 100)) || die "RATE x DURATION must stay below ZONE_NAMES"
[[ $(id -u) == 0 ]] || die "run as root (NSD binds port 53)"
ensure_packages nsd:nsd dnsperf:dnsperf dig:dnsutils curl:curl taskset:util-linux ss:iproute2
[[ $MODE == callgrind ]] && ensure_packages valgrind:valgrind
[[ $MODE == perf ]] && { command -v perf >/dev/null || die "perf not installed"; }

WORK=$(mktemp -d /tmp/cold-profile.XXXXXX)
OUT=${OUT:-$WORK}
mkdir -p "$WORK/logs" "$OUT"
trap cleanup EXIT
trap 'exit 130' INT TERM
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK

NET=$(pick_loopback_net)
ROOT_IP=127.0.$NET.1 TLD_IP=127.0.$NET.2 LEAF_IP=127.0.$NET.3
make_zones "$WORK/zones"
start_nsd root "." "$ROOT_IP" "$WORK/zones/root.zone"
start_nsd tld "zz." "$TLD_IP" "$WORK/zones/zz.zone"
start_nsd leaf "bench.zz." "$LEAF_IP" "$WORK/zones/bench.zz.zone"
check_hierarchy

[[ -x $DNSWARD ]] || (cd "$REPO" && cargo build --release) >"$WORK/logs/cargo.log" 2>&1 ||
  die "cargo build failed: $WORK/logs/cargo.log"
REAL_DNSWARD=$DNSWARD
if [[ $MODE == callgrind ]]; then
  # start_dnsward runs "$DNSWARD check-config" and "$DNSWARD run"; only the
  # server runs under valgrind (exec keeps the PID).
  DNSWARD=$WORK/dnsward-callgrind
  cat >"$DNSWARD" <<EOF
#!/bin/sh
[ "\$1" = run ] && exec valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "$REAL_DNSWARD" "\$@"
exec "$REAL_DNSWARD" "\$@"
EOF
  chmod +x "$DNSWARD"
fi
mkdir -p "$WORK/dnsward"
write_dnsward_conf "$WORK/dnsward/cold.toml" 0
start_dnsward cold "$WORK/dnsward/cold.toml"

# Learn the cuts (. -> zz. -> bench.zz.), then fresh names only.
check_answer "$DW_PORT" h1.bench.zz A 'h1\.bench\.zz\..*A[[:space:]]+198\.18\.0\.1'
check_answer "$DW_PORT" h2.bench.zz A 'h2\.bench\.zz\..*A[[:space:]]+198\.18\.0\.2'
awk -v a=100 -v b=$((100 + RATE * DURATION)) 'BEGIN { for (i = a; i < b; i++) printf "h%d.bench.zz A\n", i }' >"$WORK/cold.txt"

args=(-s 127.0.0.1 -p "$DW_PORT" -d "$WORK/cold.txt" -n 1 -Q "$RATE" -l $((DURATION + 5)) -c 4 -q 200 -t 5 -e)
if [[ $MODE == callgrind ]]; then
  callgrind_control -z "$DW_PID" >/dev/null
  taskset -c "$LOAD_CPU" dnsperf "${args[@]}" >"$WORK/dnsperf.out" 2>&1 || die "dnsperf failed"
  callgrind_control -d "$DW_PID" >/dev/null
  sleep 1
else
  # `command`: lib.sh defines a shell function named perf.
  command perf record -q -e cpu-clock -g -p "$DW_PID" -o "$OUT/perf.data" >"$WORK/logs/perf.log" 2>&1 &
  ppid=$!
  register "$ppid" perf-record
  sleep 0.5
  taskset -c "$LOAD_CPU" dnsperf "${args[@]}" >"$WORK/dnsperf.out" 2>&1 || die "dnsperf failed"
  kill -INT "$ppid"
  wait "$ppid" || true
  stop_pid "$ppid"
fi
done=$(awk '/Queries completed:/ { print $3 }' "$WORK/dnsperf.out")
grep -E 'Queries (sent|completed|lost)|Response codes' "$WORK/dnsperf.out"
((done > 0)) || die "no query answered"

if [[ $MODE == callgrind ]]; then
  # The dump written by `callgrind_control -d` holds the counts since -z.
  f=$(ls -t "$OUT"/callgrind.out* | head -n 1)
  ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }')
  # Parking and waking the idle runtime worker depends on how queries and
  # replies interleave in time (machine load), not on the code path: also
  # shown without it, the steadier figure for comparing commits.
  park=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
    awk '!/=>/ && /worker\.rs:tokio::runtime::scheduler::multi_thread::worker::Context::park_internal/ { gsub(/,/, "", $1); v = $1 + 0; if (v > m) m = v } END { print m + 0 }')
  # The normal-path task of a query (decode, policy, cache, iterator,
  # answer), inclusive: the part least moved by timing.
  task=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
    awk '!/=>/ && /udp\.rs:dnsward::server::udp::dispatch::\{\{closure\}\}/ { gsub(/,/, "", $1); v = $1 + 0; if (v > m) m = v } END { print m + 0 }')
  echo "dump $f: $ir Ir for $done queries = $((ir / done)) Ir/query; worker parking $((park / done)) Ir/query; without it $(((ir - park) / done)) Ir/query; in the query task $((task / done)) Ir/query"
  callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '1,60p' >"$OUT/inclusive.txt"
  callgrind_annotate "$f" 2>/dev/null | sed -n '1,80p' >"$OUT/self.txt"
  echo "top self cost: $OUT/self.txt; inclusive: $OUT/inclusive.txt"
else
  # (`|| true`: head closing the pipe early is not a failure.)
  { command perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    grep -v -e '^#' -e '^$' | head -n 60 >"$OUT/self.txt"; } || true
  { command perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
    grep -v -e '^#' -e '^$' | head -n 8; } || true
  echo "top self cost: $OUT/self.txt"
fi
echo "$OUT"
