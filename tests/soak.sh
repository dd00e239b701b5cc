#!/usr/bin/env bash
# tests/soak.sh: bounded soak test of dnsward ("Hardening"), loopback only.
#
# Usage (as root, from anywhere):
#   tests/soak.sh                    # SOAK_SECS=180
#   SOAK_SECS=30 tests/soak.sh       # quick mode
#
# Setup (everything in one `mktemp -d /tmp/soak.XXXXXX` directory):
#   - target/release/dnsward (built with `cargo build --release` if missing),
#     copied to the work directory so a concurrent rebuild cannot swap it
#   - an NSD hierarchy from benches/load/lib.sh: `.` on 127.0.N.1, `zz.` on
#     127.0.N.2, `bench.zz.` on 127.0.N.3 (ZONE_NAMES A + CNAMES CNAME names)
#   - dnsward, recursive from 127.0.N.1, on 127.0.0.1:<free port> (UDP+TCP),
#     with the 1M aggregate list (../shared/data/blocklists/aggregate-1m,
#     gunzipped) as a [[lists]] entry with max_shrink_percent = 100,
#     [ratelimit] exempt = 127.0.0.0/8, [metrics] on 127.0.0.1:<free port>
#     (both ports configured as 0: the OS picks, dnsward prints them), and
#     short cache TTLs (CACHE_TTL) so names are re-resolved all along
#
# For SOAK_SECS seconds, in parallel:
#   a) dnsperf at SOAK_QPS (-e, EDNS) over a query file that mixes resolvable
#      names (A, CNAME->A, AAAA/NODATA), NXDOMAIN names and names of the list
#   b) every SWAP_INTERVAL s the list file is replaced (modified copy, then
#      `mv` over it): a good swap drops a different 2% slice and adds a marker
#      name swapN.soak-marker.invalid; every BAD_SWAP_EVERY-th swap is an
#      unusable file (alternately empty / only rejected lines), which dnsward
#      must refuse while keeping the serving version
#   c) tests/soak/hostile.py, from 127.0.0.66: HOSTILE_PPS malformed UDP
#      packets/s (garbage, truncated, pointer loops, labels > 63, names > 255,
#      huge counts, QR=1, bad opcodes, bad EDNS, CH class, AXFR, bit flips,
#      jumbo) and HOSTILE_TCP TCP connections (junk, bad length prefixes, one
#      byte per second, idle, pipelined good+bad, half query + FIN/RST) plus
#      one burst of 20 simultaneous connections from 127.0.0.67
#   and every 5 s dnsward's VmRSS / fds / threads / answers cached and its
#   metrics are sampled,
#   every second the drops on its UDP socket (/proc/net/udp), its CPU
#   time and its threads' run-queue wait (to tell a slow dnsward from a busy
#   shared machine).
#
# Report (stdout, and $WORK/report.txt): queries sent/completed/lost, hostile
# packets sent, reloads done and refused, VmRSS at start and end and VmHWM,
# dnsward_rejected_queries_total by reason, responses by rcode, log volume,
# whether dnsward is still alive and answering (dig over UDP and TCP), and
# how it shuts down on SIGTERM.
#
# Exit status: 0 when every check passes; 1 when dnsward died, lost more
# than MAX_LOSS_PCT % of the queries, stopped answering after the run, or does
# not serve the last good list version (or dropped it for an unusable file);
# 2 on a setup error.
# WARN lines (hostile-packet anomalies, memory growth, log floods, unclean
# shutdown, refusals that differ from the bad swaps) do not change the status.
#
# Environment (defaults in brackets):
#   SOAK_SECS [180] (10..3600)  SOAK_QPS [3000]  SOAK_CLIENTS [4]
#   SWAP_INTERVAL [5]  BAD_SWAP_EVERY [4] (0: never)
#   HOSTILE_PPS [200]  HOSTILE_TCP [SOAK_SECS/3, at least 10]
#   CACHE_TTL [30]  ZONE_NAMES [10000]  CNAMES [1000]  QUERY_LINES [20000]
#   MAX_LOSS_PCT [0.1]
#   MAX_RSS_GROWTH_PCT [25]  WARN if VmRSS grows more than this from the sample
#                at a third of the run to the end (after the first reloads)
#   BLOCKLIST [<repo>/../shared/data/blocklists/aggregate-1m/aggregate.domains.txt.gz]
#   DNSWARD [<repo>/target/release/dnsward]
#   SOAK_BUILD [missing]  missing: `cargo build --release` only if DNSWARD is
#                missing; always: run it first (a no-op when up to date)
#   SERVER_CPU [0] LOAD_CPU [1]  CPU lists (taskset -c) for dnsward / for dnsperf,
#                NSD and hostile.py (both 0 on a 1-core machine)
#   KEEP_TMP [0]  1: keep the bulky files (zones, lists, query files)
#
# Safety: traffic goes only to 127.0.0.0/8 (hostile.py refuses anything
# else); every loop and process is bounded in count and time; every process
# started here is stopped by its PID on exit (no pkill/killall).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=benches/load/lib.sh
source "$REPO/benches/load/lib.sh"

SOAK_SECS=${SOAK_SECS:-180}
SOAK_QPS=${SOAK_QPS:-3000}
SOAK_CLIENTS=${SOAK_CLIENTS:-4}
SWAP_INTERVAL=${SWAP_INTERVAL:-5}
BAD_SWAP_EVERY=${BAD_SWAP_EVERY:-4}
HOSTILE_PPS=${HOSTILE_PPS:-200}
HOSTILE_TCP=${HOSTILE_TCP:-$((SOAK_SECS / 3 > 10 ? SOAK_SECS / 3 : 10))}
CACHE_TTL=${CACHE_TTL:-30}
ZONE_NAMES=${ZONE_NAMES:-10000}
CNAMES=${CNAMES:-1000}
QUERY_LINES=${QUERY_LINES:-20000}
MAX_LOSS_PCT=${MAX_LOSS_PCT:-0.1}
MAX_RSS_GROWTH_PCT=${MAX_RSS_GROWTH_PCT:-25}
BLOCKLIST=${BLOCKLIST:-$REPO/../shared/data/blocklists/aggregate-1m/aggregate.domains.txt.gz}
DNSWARD=${DNSWARD:-$REPO/target/release/dnsward}
SOAK_BUILD=${SOAK_BUILD:-missing}
if (($(nproc) >= 2)); then
  SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
else
  SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-0}
fi
KEEP_TMP=${KEEP_TMP:-0}
# Setup errors (here and in the lib.sh helpers) exit 2; 1 means "dnsward failed".
fatal() {
  log "ERROR: $*"
  exit 2
}
die() { fatal "$@"; }

for v in SOAK_SECS SOAK_QPS SOAK_CLIENTS SWAP_INTERVAL BAD_SWAP_EVERY HOSTILE_PPS HOSTILE_TCP CACHE_TTL \
  ZONE_NAMES CNAMES QUERY_LINES MAX_RSS_GROWTH_PCT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || fatal "$v must be a non-negative integer (got '${!v}')"
done
for v in SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9][0-9,-]*$ ]] || fatal "$v must be a taskset CPU list such as 0 or 0-1 (got '${!v}')"
done
[[ $MAX_LOSS_PCT =~ ^[0-9]+(\.[0-9]+)?$ ]] || fatal "MAX_LOSS_PCT must be a number"
((SOAK_SECS >= 10 && SOAK_SECS <= 3600)) || fatal "SOAK_SECS must be 10..3600"
((SOAK_QPS >= 1 && SOAK_QPS <= 50000)) || fatal "SOAK_QPS must be 1..50000"
((SWAP_INTERVAL >= 1)) || fatal "SWAP_INTERVAL must be >= 1"
((HOSTILE_PPS >= 1 && HOSTILE_PPS <= 5000)) || fatal "HOSTILE_PPS must be 1..5000"
((HOSTILE_TCP <= 1000)) || fatal "HOSTILE_TCP must be <= 1000"
((ZONE_NAMES >= 100 && CNAMES >= 1 && CNAMES <= ZONE_NAMES)) || fatal "need ZONE_NAMES >= 100 and 1 <= CNAMES <= ZONE_NAMES"
((QUERY_LINES >= 100 && QUERY_LINES <= 1000000)) || fatal "QUERY_LINES must be 100..1000000"
[[ $(id -u) == 0 ]] || fatal "run as root (NSD binds port 53)"
[[ -f $BLOCKLIST ]] || fatal "block list not found: $BLOCKLIST"


# Stop everything we started (by PID, newest first); drop the bulky files.
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[i]}"
  done
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    [[ $KEEP_TMP == 1 ]] || rm -rf "${WORK:?}/zones" "${WORK:?}/lists" "${WORK:?}/staging" "${WORK:?}/q" "${WORK:?}/bin" 2>/dev/null || true
    log "work directory (logs, config, report): $WORK"
  fi
  exit "$rc"
}

# Only what this script uses (no unbound).
ensure_packages dnsperf:dnsperf nsd:nsd dig:dnsutils curl:curl taskset:util-linux ss:iproute2 python3:python3
WORK=$(mktemp -d /tmp/soak.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/bin" "$WORK/q" "$WORK/lists" "$WORK/staging" "$WORK/dnsward"
trap cleanup EXIT
trap 'exit 130' INT TERM
log "work directory: $WORK"

# ---------------------------------------------------------------- binary
if [[ ! -x $DNSWARD || $SOAK_BUILD == always ]]; then
  log "building dnsward (cargo build --release)"
  (cd "$REPO" && cargo build --release) >"$WORK/logs/cargo.log" 2>&1 || fatal "cargo build failed: $WORK/logs/cargo.log"
fi
cp "$DNSWARD" "$WORK/bin/dnsward"
DIRTY=$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
BIN_INFO="$DNSWARD ($(date -r "$DNSWARD" '+%F %T'), $(sha256sum "$DNSWARD" | cut -c1-12)), repo HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') ($DIRTY uncommitted files under src/, Cargo.*)"
# A binary older than the sources tests old code: say so in the report.
NEWEST_SRC=$(find "$REPO/src" "$REPO/Cargo.toml" "$REPO/Cargo.lock" -type f -newer "$DNSWARD" -printf '%TY-%Tm-%Td %TH:%TM %P\n' 2>/dev/null | sort | tail -n 1)
[[ -z $NEWEST_SRC ]] || BIN_INFO="$BIN_INFO -- OLDER than the sources (newest change: $NEWEST_SRC; SOAK_BUILD=always rebuilds)"
DNSWARD=$WORK/bin/dnsward

# ---------------------------------------------------------------- hierarchy
NET=$(pick_loopback_net)
ROOT_IP=127.0.$NET.1 TLD_IP=127.0.$NET.2 LEAF_IP=127.0.$NET.3
make_zones "$WORK/zones"
start_nsd root "." "$ROOT_IP" "$WORK/zones/root.zone"
start_nsd tld "zz." "$TLD_IP" "$WORK/zones/zz.zone"
start_nsd leaf "bench.zz." "$LEAF_IP" "$WORK/zones/bench.zz.zone"
check_hierarchy

# ---------------------------------------------------------------- list and queries
BASE=$WORK/staging/base.txt
LIST_FILE=$WORK/lists/aggregate.txt
gzip -dc "$BLOCKLIST" >"$BASE"
cp "$BASE" "$LIST_FILE"
LIST_LINES=$(wc -l <"$BASE")
# Well-formed names of the list (as lib.sh's prepare_lists), a sample for queries.
awk '{
    sub(/#.*/, ""); gsub(/[ \t\r]/, "")
    if ($0 == "" || $0 ~ /^\*\./) next
    n = tolower($0); sub(/\.$/, "", n)
    if (length(n) > 253 || n !~ /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/) next
    k = split(n, lab, ".")
    for (j = 1; j <= k; j++) if (length(lab[j]) > 63) next
    print n
  }' "$BASE" | shuf -n $((QUERY_LINES * 30 / 100)) --random-source=<(yes) >"$WORK/q/blocked-names.txt"
grep -qE '(^|\.)zz$' "$WORK/q/blocked-names.txt" && fatal "the list covers the test TLD zz."
# Query mix: 45% A, 5% CNAME->A, 5% AAAA (NODATA), 15% NXDOMAIN, 30% listed
# names (A, some AAAA and HTTPS); shuffled with a fixed seed.
{
  awk -v n="$QUERY_LINES" -v z="$ZONE_NAMES" -v c="$CNAMES" 'BEGIN {
      srand(1)
      for (i = 0; i < int(n * 0.45); i++) printf "h%d.bench.zz A\n", int(rand() * z)
      for (i = 0; i < int(n * 0.05); i++) printf "c%d.bench.zz A\n", int(rand() * c)
      for (i = 0; i < int(n * 0.05); i++) printf "h%d.bench.zz AAAA\n", int(rand() * z)
      for (i = 0; i < int(n * 0.15); i++) printf "nx%d.bench.zz A\n", i
    }'
  awk 'BEGIN { srand(2) } { r = rand(); print $1 (r < 0.8 ? " A" : r < 0.9 ? " AAAA" : " HTTPS") }' "$WORK/q/blocked-names.txt"
} | shuf --random-source=<(yes) >"$WORK/q/soak.txt"
awk 'BEGIN { for (i = 0; i < 100; i++) printf "h%d.bench.zz\n", i }' >"$WORK/q/hostile-names.txt"
log "list: $LIST_LINES lines; query file: $(wc -l <"$WORK/q/soak.txt") lines"

# ---------------------------------------------------------------- dnsward
CONF=$WORK/dnsward/soak.toml
cat >"$CONF" <<EOF
[server]
listen = ["127.0.0.1:0"]

[resolver]
mode = "recursive"
root_servers = ["$ROOT_IP"]
authority_allow = ["127.0.0.0/8"]

[cache]
max_ttl_secs = $CACHE_TTL
negative_max_ttl_secs = $CACHE_TTL

[metrics]
listen = "127.0.0.1:0"

[reload]
watch = true

# The loopback hierarchy is unsigned.
[dnssec]
validation = false

[ratelimit]
exempt = ["127.0.0.0/8"]

[[lists]]
name = "aggregate-1m"
path = "$LIST_FILE"
format = "domains"
max_shrink_percent = 100
EOF
start_dnsward soak "$CONF" # sets DW_PID DW_PORT DW_HTTP (port 0: the OS picks a free one)
DW_ERR=$WORK/logs/dnsward-soak.err
BLOCKED1=$(head -n 1 "$WORK/q/blocked-names.txt")
check_answer "$DW_PORT" h1.bench.zz A 'h1\.bench\.zz\..*A[[:space:]]+198\.18\.0\.1'
check_answer "$DW_PORT" c3.bench.zz A 'h3\.bench\.zz\..*A[[:space:]]+198\.18\.0\.3'
check_answer "$DW_PORT" nx1.bench.zz A 'status: NXDOMAIN'
check_answer "$DW_PORT" "$BLOCKED1" A "A[[:space:]]+0\.0\.0\.0"

# Drops counted on dnsward's own UDP socket (last column of /proc/net/udp).
udp_sock_drops() {
  awk -v p=":$(printf '%04X' "$DW_PORT")" 'NR > 1 && substr($2, length($2) - 4) == p { s += $NF } END { print s + 0 }' /proc/net/udp
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# answers held in dnsward's cache, from a metrics scrape (0 when absent)
cache_entries() { metric_sum "$1" dnsward_cache_entries 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# metric_delta NAME FILE0 FILE1: "labels: delta" per series of NAME (changed ones)
metric_delta() {
  awk -v n="$1" '
    FNR == 1 { f++ }
    $1 == n || index($1, n "{") == 1 {
      if (f == 1) { old[$1] = $NF; next }
      d = $NF - old[$1]
      if (d == 0) next
      l = $1; sub(/^[^{]*\{?/, "", l); sub(/\}$/, "", l); gsub(/"/, "", l)
      if (l !~ /,/) sub(/^[^=]*=/, "", l)
      printf "%s%s=%d", (k++ ? ", " : ""), (l == "" ? "total" : l), d
    }
    END { if (!k) printf "none" }' "$2" "$3"
}

# ---------------------------------------------------------------- soak
scrape "$WORK/logs/metrics-start.txt"
RSS0=$(status_kb "$DW_PID" VmRSS) HWM0=$(status_kb "$DW_PID" VmHWM)
FD0=$(fd_count "$DW_PID") THR0=$(status_kb "$DW_PID" Threads)
CPU0=$(cpu_ticks "$DW_PID")
CLK=$(getconf CLK_TCK)
LOG0=$(wc -l <"$DW_ERR")
RCVBUF0=$(udp_rcvbuf_errors)
SOCKDROP0=$(udp_sock_drops)
printf 't_s\tnew_drops\tcpu_pct\trunq_wait_pct\n' >"$WORK/persec.tsv"
printf 't_s\tvmrss_kb\tfds\tthreads\tcache_entries\n0\t%s\t%s\t%s\t%s\n' "$RSS0" "$FD0" "$THR0" \
  "$(cache_entries "$WORK/logs/metrics-start.txt")" >"$WORK/rss.tsv"

log "soak: ${SOAK_SECS}s; dnsperf -Q $SOAK_QPS; list swap every ${SWAP_INTERVAL}s; hostile ${HOSTILE_PPS} pkt/s + $HOSTILE_TCP TCP connections"
HOSTILE_OUT=$WORK/logs/hostile.out
timeout -k 5 $((SOAK_SECS + 60)) taskset -c "$LOAD_CPU" python3 "$HERE/soak/hostile.py" \
  --target 127.0.0.1 --port "$DW_PORT" --source 127.0.0.66 --duration "$SOAK_SECS" --rate "$HOSTILE_PPS" \
  --tcp-conns "$HOSTILE_TCP" --tcp-parallel 6 --tcp-bursts 1 --burst-size 20 \
  --names-file "$WORK/q/hostile-names.txt" --seed 1 >"$HOSTILE_OUT" 2>"$WORK/logs/hostile.err" &
HOSTILE_PID=$!
register "$HOSTILE_PID" hostile
DP_OUT=$WORK/logs/dnsperf.out
timeout -k 5 $((SOAK_SECS + 30)) taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$DW_PORT" -d "$WORK/q/soak.txt" \
  -l "$SOAK_SECS" -Q "$SOAK_QPS" -c "$SOAK_CLIENTS" -q 500 -t 5 -e -S 1 >"$DP_OUT" 2>"$WORK/logs/dnsperf.err" &
DP_PID=$!
register "$DP_PID" dnsperf

T0=$SECONDS
SWAPS=0 GOOD_SWAPS=0 BAD_SWAPS=0 LAST_GOOD=0 DIED_AT="" SWAP_TIMES="" METRICS_LAST_T="" BAD_LOST=() NEXT_RSS=5
# Time dnsward's threads spent runnable but waiting for a CPU (schedstat field 2, ns):
# high when other processes on the shared machine take its core.
runq_wait_ns() { cat "/proc/$DW_PID/task/"*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%d\n", s }'; }
NEXT_SAMPLE=1 LAST_DROPS=$SOCKDROP0 LAST_TICKS=$CPU0 LAST_NS=$(date +%s%N) LAST_WAIT=$(runq_wait_ns)
per_second() { # about once a second: new drops on dnsward's UDP socket, its CPU %, its run-queue wait %
  local d c ns wt el
  ((SECONDS - T0 >= NEXT_SAMPLE)) || return 0
  running "$DW_PID" || return 0
  NEXT_SAMPLE=$((SECONDS - T0 + 1))
  d=$(udp_sock_drops) c=$(cpu_ticks "$DW_PID") ns=$(date +%s%N) wt=$(runq_wait_ns)
  el=$((ns - LAST_NS > 0 ? ns - LAST_NS : 1))
  printf '%s\t%s\t%s\t%s\n' $((SECONDS - T0)) $((d - LAST_DROPS)) \
    $(((c - LAST_TICKS) * 100 * 1000000000 / CLK / el)) $(((wt - LAST_WAIT) * 100 / el)) >>"$WORK/persec.tsv"
  LAST_DROPS=$d LAST_TICKS=$c LAST_NS=$ns LAST_WAIT=$wt
  if ((SECONDS - T0 >= NEXT_RSS)); then # every 5 s: memory, fds, threads, metrics
    NEXT_RSS=$((NEXT_RSS + 5))
    scrape "$WORK/logs/metrics-tmp.txt" # kept in case dnsward dies before the final scrape
    printf '%s\t%s\t%s\t%s\t%s\n' $((SECONDS - T0)) "$(status_kb "$DW_PID" VmRSS)" "$(fd_count "$DW_PID")" \
      "$(status_kb "$DW_PID" Threads)" "$(cache_entries "$WORK/logs/metrics-tmp.txt")" >>"$WORK/rss.tsv"
    if [[ -s $WORK/logs/metrics-tmp.txt ]]; then
      mv -f "$WORK/logs/metrics-tmp.txt" "$WORK/logs/metrics-last.txt"
      METRICS_LAST_T=$((SECONDS - T0))
    fi
  fi
}
: >"$WORK/logs/swaps.log"
MAX_SWAPS=$((SOAK_SECS / SWAP_INTERVAL + 1))
for ((i = 1; i <= MAX_SWAPS; i++)); do
  # sleep until T0 + i * SWAP_INTERVAL, watching the processes (bounded)
  for ((w = 0; w < SWAP_INTERVAL * 10 && SECONDS - T0 < i * SWAP_INTERVAL; w++)); do
    if ! running "$DP_PID" || ! running "$DW_PID"; then break; fi
    per_second
    sleep 0.1
  done
  if ! running "$DW_PID"; then
    DIED_AT=$((SECONDS - T0))
    log "dnsward is gone after ${DIED_AT}s"
    break
  fi
  running "$DP_PID" || break
  ((SECONDS - T0 < SOAK_SECS - 1)) || break
  NEW=$WORK/staging/aggregate.txt.new
  if ((BAD_SWAP_EVERY > 0 && i % BAD_SWAP_EVERY == 0)); then
    # unusable versions: dnsward must refuse them and keep serving the last good one
    if (((i / BAD_SWAP_EVERY) % 2)); then
      : >"$NEW"
      kind="bad (empty file)"
    else
      # every line rejected by dnsward's parser (`dnsward check-list` accepts none)
      printf '%s\n' '# only rejected lines' '192.0.2.1' '2001:db8::1' 'a..b' "$(printf 'x%.0s' {1..70}).example" \
        'bücher.example' 'two words' >"$NEW"
      kind="bad (no usable line)"
    fi
    BAD_SWAPS=$((BAD_SWAPS + 1))
  else
    # a modified copy: drop a different 2% slice each time, add a marker name
    awk -v k=$((i % 50)) 'NR % 50 != k' "$BASE" >"$NEW"
    echo "swap$i.soak-marker.invalid" >>"$NEW"
    kind=good
    GOOD_SWAPS=$((GOOD_SWAPS + 1)) LAST_GOOD=$i
  fi
  mv -f "$NEW" "$LIST_FILE"
  SWAPS=$i
  if [[ $kind == bad* ]]; then
    # the serving version must survive: the last good version's marker (or, before
    # any good swap, a listed name) still blocked once the reload has settled
    sleep 1.5
    probe=$BLOCKED1
    ((LAST_GOOD > 0)) && probe="swap$LAST_GOOD.soak-marker.invalid"
    if ! dig +time=2 +tries=1 -p "$DW_PORT" @127.0.0.1 "$probe" A 2>/dev/null | grep -qE 'A[[:space:]]+0\.0\.0\.0'; then
      BAD_LOST+=("swap $i ($kind): $probe no longer blocked 1.5 s after it")
    fi
  fi
  SWAP_TIMES+="${SWAP_TIMES:+ }$((SECONDS - T0))${kind:0:1}"
  printf '%s swap %d at %ds: %s\n' "$(date +%T)" "$i" $((SECONDS - T0)) "$kind" >>"$WORK/logs/swaps.log"
done
log "swaps done ($SWAPS: $GOOD_SWAPS good, $BAD_SWAPS bad); waiting for dnsperf and hostile.py"

for ((w = 0; w < (SOAK_SECS + 40) * 10; w++)); do # dnsperf: SOAK_SECS + its timeout
  running "$DP_PID" || break
  per_second
  sleep 0.1
done
DP_RC=0
wait "$DP_PID" || DP_RC=$?
stop_pid "$DP_PID" # finished: forget its PID
for ((w = 0; w < 600; w++)); do # hostile.py ends by itself a few s after SOAK_SECS
  running "$HOSTILE_PID" || break
  sleep 0.1
done
stop_pid "$HOSTILE_PID"
SOAK_WALL=$((SECONDS - T0))

# ---------------------------------------------------------------- after the run
ALIVE=no
running "$DW_PID" && ALIVE=yes
[[ -z $DIED_AT && $ALIVE == no ]] && DIED_AT="after the load"
MARKER=n/a
if [[ $ALIVE == yes && $LAST_GOOD -gt 0 ]]; then
  MARKER=NO
  for ((w = 0; w < 30; w++)); do # the last reload may still be settling (up to ~15 s)
    if dig +time=2 +tries=1 -p "$DW_PORT" @127.0.0.1 "swap$LAST_GOOD.soak-marker.invalid" A 2>/dev/null | grep -qE 'A[[:space:]]+0\.0\.0\.0'; then
      MARKER=yes
      break
    fi
    sleep 0.5
  done
fi
dig_ok() { # dig_ok ARGS... REGEX: one query, answer must match
  local re=${*: -1} out
  out=$(dig +time=3 +tries=1 -p "$DW_PORT" @127.0.0.1 "${@:1:$#-1}" 2>&1 || true)
  grep -qE "$re" <<<"$out" && echo yes || echo NO
}
DIG_UDP=NO DIG_TCP=NO DIG_BLOCK=NO DIG_NX=NO READY=000
if [[ $ALIVE == yes ]]; then
  DIG_UDP=$(dig_ok h2.bench.zz A 'h2\.bench\.zz\..*A[[:space:]]+198\.18\.0\.2')
  DIG_TCP=$(dig_ok +tcp h3.bench.zz A 'h3\.bench\.zz\..*A[[:space:]]+198\.18\.0\.3')
  DIG_NX=$(dig_ok nx2.bench.zz A 'status: NXDOMAIN')
  # a listed name that the last good swap kept (each swap drops the lines NR % 50 == swap % 50)
  FINAL_BLOCKED=$(awk -v k=$((LAST_GOOD % 50)) -v g="$LAST_GOOD" '(g == 0 || NR % 50 != k) && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/ { print; exit }' "$BASE")
  DIG_BLOCK=$(dig_ok "${FINAL_BLOCKED:-$BLOCKED1}" A 'A[[:space:]]+0\.0\.0\.0')
  READY=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://$DW_HTTP/readyz" || true)
fi
scrape "$WORK/logs/metrics-end.txt"
RSS1=$(status_kb "$DW_PID" VmRSS) HWM1=$(status_kb "$DW_PID" VmHWM)
FD1=$(fd_count "$DW_PID") THR1=$(status_kb "$DW_PID" Threads)
CPU1=$CPU0
[[ $ALIVE == yes ]] && CPU1=$(cpu_ticks "$DW_PID")
RCVBUF1=$(udp_rcvbuf_errors)
SOCKDROP1=$(udp_sock_drops)
[[ $ALIVE == yes ]] && printf '%s\t%s\t%s\t%s\t%s\n' "$SOAK_WALL" "$RSS1" "$FD1" "$THR1" \
  "$(cache_entries "$WORK/logs/metrics-end.txt")" >>"$WORK/rss.tsv"
LOG1=$(wc -l <"$DW_ERR")

# Graceful shutdown: SIGTERM, then up to 15 s for exit (shutdown delay + drain).
SHUTDOWN="not running"
if [[ $ALIVE == yes ]]; then
  t_term=$(date +%s.%N)
  kill -TERM "$DW_PID" 2>/dev/null || true
  for ((w = 0; w < 150; w++)); do
    running "$DW_PID" || break
    sleep 0.1
  done
  if running "$DW_PID"; then
    SHUTDOWN="still running 15 s after SIGTERM (killed)"
    stop_pid "$DW_PID"
  else
    DW_RC=0
    wait "$DW_PID" || DW_RC=$?
    SHUTDOWN=$(awk -v a="$t_term" -v b="$(date +%s.%N)" -v rc="$DW_RC" 'BEGIN { printf "exit status %d, %.1f s after SIGTERM", rc, b - a }')
    stop_pid "$DW_PID"
  fi
else
  DW_RC=0
  wait "$DW_PID" 2>/dev/null || DW_RC=$?
  SHUTDOWN="had already exited with status $DW_RC"
  stop_pid "$DW_PID"
fi

# ---------------------------------------------------------------- report
M0=$WORK/logs/metrics-start.txt M1=$WORK/logs/metrics-end.txt METRICS_NOTE="after the run"
if [[ ! -s $M1 ]]; then # dnsward gone: the last scrape taken during the soak
  M1=$WORK/logs/metrics-last.txt METRICS_NOTE="from the last scrape, at ${METRICS_LAST_T:-?}s (dnsward gone)"
  [[ -s $M1 ]] || { M1=$M0 METRICS_NOTE="none after the start (dnsward gone)"; }
fi
read -r SENT DONE LOST < <(awk '/Queries sent:/ { s = $3 } /Queries completed:/ { c = $3 } /Queries lost:/ { l = $3 }
  END { printf "%d %d %d\n", s, c, l }' "$DP_OUT")
LOSS_PCT=$(awk -v s="$SENT" -v l="$LOST" 'BEGIN { printf "%.4f", s ? 100 * l / s : 100 }')
RCODES=$(sed -n 's/^[[:space:]]*Response codes:[[:space:]]*//p' "$DP_OUT" | awk 'NR == 1')
QPS=$(awk '/Queries per second:/ { print $4 }' "$DP_OUT")
# dnsperf -S 1: "UNIXTIME: QPS" lines; seconds (from the start) under 90% of the target
# (the first line is dnsperf's start, an empty interval: it only sets t0)
INTERVALS=$(awk -v q="$SOAK_QPS" '$1 ~ /^[0-9]+\.[0-9]+:$/ { t = $1 + 0; if (t0 == "") { t0 = t; next } n++
    if (mn == "" || $2 < mn) mn = $2; if ($2 > mx) mx = $2
    if ($2 < 0.9 * q) { low = low sprintf(" %ds:%.0f", t - t0, $2); nl++ } }
  END { if (!n) { print "none"; exit } printf "%d intervals, min %.0f, max %.0f; under 90%% of target: %s", n, mn, mx, nl ? nl " (" substr(low, 2) ")" : "none" }' "$DP_OUT")
DROP_TIMES=$(awk 'NR > 1 && $2 > 0 { printf "%s%ss:+%s", (n++ ? " " : ""), $1, $2 }' "$WORK/persec.tsv")
# cache-miss resolution times (dnsward_upstream_duration_seconds, end minus start):
# count, mean, and the bucket bounds holding the 50th/90th/99th percentiles
UPSTREAM=$(awk '
    FNR == 1 { f++ }
    $1 ~ /^dnsward_upstream_duration_seconds_(bucket|sum|count)/ {
      k = $1; v = (f == 1 ? -$NF : $NF); acc[k] += v
      if (f == 2 && k ~ /_bucket/) { le = k; sub(/.*le="/, "", le); sub(/".*/, "", le); if (!(le in seen)) { seen[le] = 1; ord[++n] = le } }
    }
    END {
      for (k in acc) {
        if (k ~ /_sum/) sum += acc[k]; else if (k ~ /_count/) cnt += acc[k]
        else { le = k; sub(/.*le="/, "", le); sub(/".*/, "", le); b[le] += acc[k] }
      }
      if (!cnt) { printf "none"; exit }
      printf "%d, mean %.0f ms", cnt, 1000 * sum / cnt
      split("0.5 0.9 0.99", qs, " ")
      for (i = 1; i <= 3; i++) for (j = 1; j <= n; j++) if (b[ord[j]] >= qs[i] * cnt) { printf ", p%g <= %s s", 100 * qs[i], ord[j]; break }
    }' "$M0" "$M1")
CPU_SECS=$(awk 'NR > 1 { n++; if ($3 > mx) mx = $3; if ($3 >= 90) { b++; l = l sprintf(" %ss", $1) } }
  END { printf "max %d%% of one core; seconds at >= 90%%: %d%s", mx, b, b ? " (" substr(l, 2) ")" : "" }' "$WORK/persec.tsv")
RUNQ_SECS=$(awk 'NR > 1 { n++; s += $4; if ($4 > mx) mx = $4; if ($4 >= 20) { b++; l = l sprintf(" %ss:%d%%", $1, $4) } }
  END { printf "mean %d%%, max %d%%; seconds at >= 20%%: %d%s", n ? s / n : 0, mx, b, b ? " (" substr(l, 2) ")" : "" }' "$WORK/persec.tsv")
HOSTILE_LINE=$(grep '^HOSTILE ' "$HOSTILE_OUT" || echo "HOSTILE udp_sent=0 udp_answered=0 tcp_conns=0 anomalies=0 (no summary)")
hv() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$HOSTILE_LINE"; }
H_SENT=$(hv udp_sent) H_ANS=$(hv udp_answered) H_TCP=$(hv tcp_conns) H_ANOM=$(hv anomalies)
RELOADS=$(($(metric_sum "$M1" dnsward_list_reloads_total) - $(metric_sum "$M0" dnsward_list_reloads_total)))
REFUSED=$(($(metric_sum "$M1" dnsward_list_reload_failures_total) - $(metric_sum "$M0" dnsward_list_reload_failures_total)))
# log lines written during the soak (ANSI colours stripped), by level
sed -n "$((LOG0 + 1)),${LOG1}p" "$DW_ERR" | sed 's/\x1b\[[0-9;]*m//g' >"$WORK/logs/dnsward-soak-window.log"
LOG_N=$((LOG1 - LOG0))
LOG_LEVELS=$(awk '{ for (i = 1; i <= 3 && i <= NF; i++) if ($i ~ /^(TRACE|DEBUG|INFO|WARN|ERROR)$/) { c[$i]++; break } }
  END { for (l in c) printf "%s %s=%d", (k++ ? "," : ""), l, c[l]; if (!k) printf " none" }' "$WORK/logs/dnsward-soak-window.log")
LOG_TOP=$(sed -E 's/^[^ ]+ +//; s/[0-9]+(\.[0-9]+)?/N/g' "$WORK/logs/dnsward-soak-window.log" | cut -c1-160 | sort | uniq -c | sort -rn | awk 'NR <= 5')
RSS_MIN=$(awk 'NR > 1 { if (m == "" || $2 < m) m = $2 } END { print m + 0 }' "$WORK/rss.tsv")
RSS_MAX=$(awk 'NR > 1 { if ($2 > m) m = $2 } END { print m + 0 }' "$WORK/rss.tsv")
# growth once the list swaps have started (first sample at or after a third of the run -> end)
RSS_LATE=$(awk -v t="$((SOAK_SECS / 3))" 'NR > 1 && $1 >= t && !d { d = 1; print $1, $2 } END { if (!d) print "0 0" }' "$WORK/rss.tsv")
RSS_SERIES=$(awk 'NR > 1 { printf "%s%ss:%.0f", (n++ ? " " : ""), $1, $2 / 1024 }' "$WORK/rss.tsv")
FD_SERIES=$(awk 'NR > 1 { printf "%s%s", (n++ ? " " : ""), $3 }' "$WORK/rss.tsv")
CACHE_SERIES=$(awk 'NR > 1 { printf "%s%ss:%s", (n++ ? " " : ""), $1, $5 }' "$WORK/rss.tsv")

FAILS=() WARNS=()
[[ $ALIVE == yes ]] || FAILS+=("dnsward died (${DIED_AT}s into the soak); last log lines in $DW_ERR")
[[ -n $SENT && $SENT -gt 0 ]] || FAILS+=("dnsperf sent no queries (exit $DP_RC; see $WORK/logs/dnsperf.err)")
awk -v p="$LOSS_PCT" -v m="$MAX_LOSS_PCT" 'BEGIN { exit !(p > m) }' && FAILS+=("lost $LOST of $SENT queries ($LOSS_PCT% > $MAX_LOSS_PCT%)")
if [[ $ALIVE == yes ]]; then
  [[ $DIG_UDP == yes && $DIG_TCP == yes && $DIG_NX == yes && $DIG_BLOCK == yes ]] ||
    FAILS+=("not answering correctly after the run (udp $DIG_UDP, tcp $DIG_TCP, nxdomain $DIG_NX, blocked $DIG_BLOCK)")
  for f in ${BAD_LOST[@]+"${BAD_LOST[@]}"}; do FAILS+=("unusable list not refused: $f"); done
  [[ $MARKER != NO ]] || FAILS+=("the last good list version (swap $LAST_GOOD) is not served 15 s after the swap")
  [[ $READY == 200 ]] || WARNS+=("/readyz answered $READY after the run")
fi
((H_ANOM == 0)) || WARNS+=("hostile.py saw $H_ANOM anomalous answers (see the hostile section)")
((REFUSED == BAD_SWAPS)) || WARNS+=("$REFUSED reloads refused for $BAD_SWAPS unusable files (repeated refusals of one unchanged file?)")
((RELOADS >= GOOD_SWAPS)) || WARNS+=("$RELOADS reloads for $GOOD_SWAPS good swaps (coalesced or missed)")
# The first reload roughly doubles RSS (old and new list coexist, and the
# allocator keeps the freed pages), so growth is judged from a third of the run on.
RSS_LATE_KB=${RSS_LATE#* }
if ((RSS_LATE_KB > 0 && RSS1 > 0)) && ((RSS1 * 100 > RSS_LATE_KB * (100 + MAX_RSS_GROWTH_PCT))); then
  WARNS+=("VmRSS still growing: $(mib "$RSS_LATE_KB") at ${RSS_LATE% *}s -> $(mib "$RSS1") at the end (> ${MAX_RSS_GROWTH_PCT}%)")
fi
if [[ $ALIVE == yes ]] && ((FD1 > FD0 + 10)); then WARNS+=("open fds grew from $FD0 to $FD1"); fi
((LOG_N <= SOAK_WALL * 5)) || WARNS+=("log flood: $LOG_N lines in ${SOAK_WALL}s")
[[ $SHUTDOWN == "exit status 0"* ]] || WARNS+=("shutdown: $SHUTDOWN")

BAD_KEPT=yes
((BAD_SWAPS > 0)) || BAD_KEPT=n/a
((${#BAD_LOST[@]} == 0)) || BAD_KEPT="NO (${#BAD_LOST[@]} of $BAD_SWAPS)"
REPORT=$WORK/report.txt
{
  echo "== dnsward soak: SOAK_SECS=$SOAK_SECS ($(date -u +%FT%TZ); $(nproc) cores; load avg before/after: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "binary: $BIN_INFO"
  echo "dnsward: 127.0.0.1:$DW_PORT (udp+tcp), http $DW_HTTP, core $SERVER_CPU; recursive from NSD $ROOT_IP -> $TLD_IP -> $LEAF_IP"
  echo "list: $LIST_LINES lines (aggregate-1m), max_shrink_percent = 100; cache TTLs capped at ${CACHE_TTL}s"
  echo "load: dnsperf -Q $SOAK_QPS -c $SOAK_CLIENTS -q 500 -e -l $SOAK_SECS over $(wc -l <"$WORK/q/soak.txt" 2>/dev/null || echo "$QUERY_LINES") names (45% A, 5% CNAME, 5% AAAA, 15% NXDOMAIN, 30% listed)"
  echo "hostile: ${HOSTILE_PPS} UDP pkt/s + $HOSTILE_TCP TCP connections + 1 burst of 20, from 127.0.0.66"
  echo
  echo "queries:   sent $SENT, completed $DONE, lost $LOST ($LOSS_PCT%; limit $MAX_LOSS_PCT%); dnsperf exit $DP_RC"
  echo "           response codes: ${RCODES:-?}"
  echo "           qps: ${QPS:-?} overall; per second: $INTERVALS"
  echo "hostile:   UDP packets sent $H_SENT (answered $H_ANS), TCP connections $H_TCP, anomalies $H_ANOM"
  echo "           drops on dnsward's UDP socket (/proc/net/udp): $((SOCKDROP1 - SOCKDROP0)); machine-wide UDP receive-buffer errors: $((RCVBUF1 - RCVBUF0))"
  echo "           socket drops by second: ${DROP_TIMES:-none}"
  echo "           list swaps at (s; g good, b bad): ${SWAP_TIMES:-none}"
  [[ $METRICS_NOTE == "after the run" ]] || echo "metrics:   every metric delta below is start -> $METRICS_NOTE"
  echo "reloads:   $SWAPS swaps ($GOOD_SWAPS good, $BAD_SWAPS unusable); dnsward_list_reloads_total +$RELOADS, refused (dnsward_list_reload_failures_total) +$REFUSED [$(metric_delta dnsward_list_reload_failures_total "$M0" "$M1")]"
  echo "           last good swap (swap$LAST_GOOD.soak-marker.invalid) blocked after the run: $MARKER; serving version kept after each unusable file: $BAD_KEPT"
  echo "memory:    VmRSS start $(mib "$RSS0"), end $(mib "$RSS1"); VmHWM $(mib "$HWM1") (at start $(mib "$HWM0")); samples min $(mib "$RSS_MIN") max $(mib "$RSS_MAX")"
  echo "           VmRSS from ${RSS_LATE% *}s to the end: $(mib "${RSS_LATE#* }") -> $(mib "$RSS1")"
  echo "           VmRSS MiB by time: $RSS_SERIES"
  echo "           answers cached (dnsward_cache_entries) by time: $CACHE_SERIES"
  echo "           open fds: start $FD0, end $FD1 (samples: $FD_SERIES); threads: start $THR0, end $THR1"
  echo "cpu:       dnsward $(awk -v t=$((CPU1 - CPU0)) -v hz="$CLK" -v w="$SOAK_WALL" 'BEGIN { printf "%.1f s in %d s (%.0f%% of one core)", t / hz, w, w ? 100 * t / hz / w : 0 }')"
  echo "           per second: $CPU_SECS"
  echo "           waiting for a CPU (runnable, not running; sum over threads, per second): $RUNQ_SECS"
  echo "rejected:  $(metric_delta dnsward_rejected_queries_total "$M0" "$M1")"
  echo "responses: $(metric_delta dnsward_responses_total "$M0" "$M1")"
  echo "queries:   $(metric_delta dnsward_queries_total "$M0" "$M1")"
  echo "resolutions (cache misses): $UPSTREAM"
  echo "upstream errors: $(metric_delta dnsward_upstream_errors_total "$M0" "$M1"); blocked: $(metric_delta dnsward_blocked_total "$M0" "$M1")"
  echo "cache:     hits +$(($(metric_sum "$M1" dnsward_cache_hits_total) - $(metric_sum "$M0" dnsward_cache_hits_total))), misses +$(($(metric_sum "$M1" dnsward_cache_misses_total) - $(metric_sum "$M0" dnsward_cache_misses_total))), entries at end $(metric_sum "$M1" dnsward_cache_entries)"
  echo "log:       $LOG_N lines on stderr during the soak (${LOG_LEVELS# }); most frequent (numbers as N):"
  if [[ -n $LOG_TOP ]]; then sed 's/^/             /' <<<"$LOG_TOP"; fi
  echo "after:     alive $ALIVE; dig udp $DIG_UDP, tcp $DIG_TCP, nxdomain $DIG_NX, blocked $DIG_BLOCK; /readyz $READY"
  echo "shutdown:  $SHUTDOWN"
  echo
  echo "-- hostile.py"
  grep -v '^HOSTILE ' "$HOSTILE_OUT" | sed 's/^/   /' || true
  echo
  echo "-- checks"
  for f in ${FAILS[@]+"${FAILS[@]}"}; do echo "FAIL: $f"; done
  for w in ${WARNS[@]+"${WARNS[@]}"}; do echo "WARN: $w"; done
  if ((${#FAILS[@]} == 0)); then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} >"$REPORT"
echo
cat "$REPORT"
echo
echo "report: $REPORT; logs: $WORK/logs"
((${#FAILS[@]} == 0)) || exit 1
exit 0
