#!/usr/bin/env bash
# dns-load.sh: dnsward vs Unbound, side by side, on loopback only.
#
# Usage (as root, from anywhere):
#   benches/dns-load.sh            # compare: every scenario, A B A B, then a table
#   benches/dns-load.sh reload     # steady load on dnsward while its 1M list is swapped
#   benches/dns-load.sh listcost   # cache hits with the 1M list vs without, one A/B
#   benches/dns-load.sh querylog   # blocked answers with [querylog] on vs off, one A/B
#   benches/dns-load.sh hierarchy  # only build + check the NSD hierarchy, then stop
#
# What it builds (everything in one `mktemp -d` directory; nothing in the repo):
#   three NSD instances, one zone each, on port 53 of their own loopback address:
#     .          on 127.0.N.1   (delegates zz. with glue)
#     zz.        on 127.0.N.2   (delegates bench.zz. with glue)
#     bench.zz.  on 127.0.N.3   (h0..h{ZONE_NAMES-1} A, c0..c{CNAMES-1} CNAME)
#   N is 2 unless something already listens there (then 3, 4, ...).
#   dnsward (target/release/dnsward; built if missing) and Unbound, both
#   recursing from 127.0.N.1, each pinned to core SERVER_CPU; dnsperf (and NSD)
#   pinned to LOAD_CPU.
#
# Scenarios (compare mode), each measured dnsward, unbound, dnsward, unbound;
# the table shows the mean of the two runs per server:
#   hit          cache hits on HOT_NAMES warm names, max rate          (no list)
#   cold         recursion on names never asked before, each name once at max
#                rate (no list); round 1 and round 2 use disjoint ranges of the
#                zone, and within a round both servers get the same names
#                (separate caches, so every run is cold)
#   latency      p50/p99 at fixed RATE qps on a mixed warm set        (no list)
#   hit+1M       hit again with the 1M list loaded
#   cold+1M      cold again with the 1M list loaded (new server processes, so
#                the same two name ranges are cold again; every query is also
#                checked against the list, and passes)
#   blocked+1M   names taken from the 1M list (NXDOMAIN by policy)
#   latency+1M   latency again with the 1M list loaded
#   hit-signed   hit on the signed hierarchy, validation on in both (not in the
#                default list: SCENARIOS="cold cold-signed" and the like)
#   cold-signed  cold on the signed hierarchy (benches/load/signed.sh: the same
#                zones signed with ldns-signzone, . and zz. RSASHA256, bench.zz.
#                SIGNED_ALG), dnsward with [dnssec] trust_anchors and Unbound
#                with module-config "validator iterator" and trust-anchor, both
#                anchored at the bench root's DS; new processes, so cold again
# SCENARIOS restricts the run to some of them (e.g. SCENARIOS=cold: only the
# cold row, no 1M list prepared, ~1 min of setup less); the phase with the
# list is skipped when none of its scenarios is asked for.
# dnsward gets the list as a [[lists]] entry (action = "nxdomain"); Unbound the
# same names as `local-zone: "NAME." always_nxdomain`.
# Per run: qps and lost queries (dnsperf), and the server's CPU time from
# /proc/PID/stat (utime+stime) before/after, giving queries per CPU-second.
#
# Time: compare mode takes about 28 x (DURATION + a few s) plus ~1.5 min of
# setup (zone, 1M list for two servers): ~5 min with DURATION=10, ~2 min with
# DURATION=3. Reload mode: RELOAD_DURATION plus ~30 s.
#
# Environment (defaults in brackets):
#   DURATION [10]        seconds per measurement run
#   RATE [2000]          qps of the latency runs (dnsperf -Q)
#   CLIENTS [4]          dnsperf -c (sockets)
#   OUTSTANDING [200]    dnsperf -q (queries in flight) for max-rate runs
#   EDNS [1]             1: dnsperf sends EDNS0 (-e), as most stubs do
#   HOT_NAMES [1000]     size of the hit set
#   ZONE_NAMES [100000]  A records in bench.zz; cold runs use h{HOT_NAMES}.. in two
#                        halves, so a cold run ends early if it asks them all
#   CNAMES [10000]       CNAMEs in bench.zz
#   BLOCK_QUERY_NAMES [100000]  names sampled from the list for the blocked runs
#   BLOCKLIST [<repo>/../shared/data/blocklists/aggregate-1m/aggregate.domains.txt.gz]
#   DNSWARD [<repo>/target/release/dnsward]
#   DNSWARD_TOML [unset] TOML appended to dnsward's config (e.g. [[groups]])
#   SERVER_CPU [0] LOAD_CPU [1]   cores for the servers / for dnsperf and NSD
#   RELOAD_DURATION [30] RELOAD_SWAPS [10] RELOAD_INTERVAL [2] RELOAD_RATE [RATE]
#   SLOW_MS [100]        reload mode: answers slower than this are counted
#   ROUNDS [3]           listcost and querylog modes: runs per dnsward process
#   QMIN [yes]           yes: both servers minimise QNAMEs (dnsward "relaxed",
#                        Unbound qname-minimisation: yes, both their defaults); no: neither
#   KEEP_TMP [0]         1: keep the big generated files (zones, lists) too
#   RESULTS [unset]      also copy the result table to this path
#   SCENARIOS [hit cold latency hit+1M cold+1M blocked+1M latency+1M]  compare mode:
#                        the scenarios to run (space-separated), in this order;
#                        hit-signed and cold-signed are asked for by name
#   SIGNED_ALG [ECDSAP256SHA256]  ldns-keygen algorithm of bench.zz. (signed phase)
#
# With a dnsward that knows [dnssec], the unsigned phases set validation =
# false (the bench root is unsigned; Unbound runs its iterator alone there).
#
# Reload mode: dnsward alone with the 1M list; dnsperf at RELOAD_RATE qps for
# RELOAD_DURATION s (half warm names, half listed names) while the list file is
# replaced RELOAD_SWAPS times (a modified copy, then `mv` over it) every
# RELOAD_INTERVAL s; reports lost queries, answers slower than SLOW_MS, the
# reload counters, and whether the last version is the one being served.
#
# Listcost mode: two dnsward processes, one without a list and one with the 1M
# list, alive side by side; the hot names at max rate on each in turn, ROUNDS
# times (A B A B ...); reports both means and the ratio (the issue's "qps with
# the 1M list >= 0.97x qps with no list", without the minutes between the
# compare mode's two phases). ~1.5 min of setup plus 2 x ROUNDS x DURATION.
#
# Output: the table on stdout and in $WORK/results.txt (path printed); raw
# per-run numbers in $WORK/runs.tsv; logs of every process in $WORK/logs.
#
# Safety: traffic goes only to 127.0.0.0/8; every loop and run is bounded;
# every process started here is stopped by PID on exit (no pkill/killall).
# NSD/Unbound instances that were already running are left alone.
set -euo pipefail

MODE=${1:-compare}
case "$MODE" in compare | reload | listcost | querylog | hierarchy) ;; *)
  echo "usage: $0 [compare|reload|listcost|querylog|hierarchy]" >&2
  exit 2
  ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=benches/load/lib.sh
source "$HERE/load/lib.sh"
# shellcheck source=benches/load/signed.sh
source "$HERE/load/signed.sh"

DURATION=${DURATION:-10}
RATE=${RATE:-2000}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-200}
EDNS=${EDNS:-1}
HOT_NAMES=${HOT_NAMES:-1000}
ZONE_NAMES=${ZONE_NAMES:-100000}
CNAMES=${CNAMES:-10000}
BLOCK_QUERY_NAMES=${BLOCK_QUERY_NAMES:-100000}
BLOCKLIST=${BLOCKLIST:-$REPO/../shared/data/blocklists/aggregate-1m/aggregate.domains.txt.gz}
DNSWARD=${DNSWARD:-$REPO/target/release/dnsward}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RELOAD_DURATION=${RELOAD_DURATION:-30}
RELOAD_SWAPS=${RELOAD_SWAPS:-10}
RELOAD_INTERVAL=${RELOAD_INTERVAL:-2}
RELOAD_RATE=${RELOAD_RATE:-$RATE}
SLOW_MS=${SLOW_MS:-100}
ROUNDS=${ROUNDS:-3}
KEEP_TMP=${KEEP_TMP:-0}
QMIN=${QMIN:-yes}
[[ $QMIN == yes || $QMIN == no ]] || die "QMIN must be yes or no (got '$QMIN')"
RESULTS=${RESULTS:-}
ALL_SCENARIOS="hit cold latency hit+1M cold+1M blocked+1M latency+1M"
KNOWN_SCENARIOS="$ALL_SCENARIOS hit-signed cold-signed"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
NEED_LIST=0 NEED_SIGNED=0
for s in $SCENARIOS; do
  [[ " $KNOWN_SCENARIOS " == *" $s "* ]] || die "SCENARIOS: unknown scenario '$s' (known: $KNOWN_SCENARIOS)"
  [[ $s == *+1M ]] && NEED_LIST=1
  [[ $s == *-signed ]] && NEED_SIGNED=1
done
[[ $MODE == reload || $MODE == listcost || $MODE == querylog ]] && NEED_LIST=1
LIST_LINES=0 UNBOUND_ZONES=0

for v in DURATION RATE CLIENTS OUTSTANDING HOT_NAMES ZONE_NAMES CNAMES BLOCK_QUERY_NAMES \
  RELOAD_DURATION RELOAD_SWAPS RELOAD_INTERVAL RELOAD_RATE SLOW_MS ROUNDS SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
((DURATION >= 1 && DURATION <= 600)) || die "DURATION must be 1..600"
((RELOAD_DURATION >= 1 && RELOAD_DURATION <= 600)) || die "RELOAD_DURATION must be 1..600"
((ROUNDS >= 1 && ROUNDS <= 20)) || die "ROUNDS must be 1..20"
((HOT_NAMES >= 10 && HOT_NAMES < ZONE_NAMES / 2)) || die "need 10 <= HOT_NAMES < ZONE_NAMES/2"
((CNAMES >= 1 && CNAMES <= ZONE_NAMES)) || die "need 1 <= CNAMES <= ZONE_NAMES"
[[ $(id -u) == 0 ]] || die "run as root (NSD binds port 53)"

ensure_packages
((NEED_SIGNED)) && ensure_packages ldns-signzone:ldnsutils ldns-keygen:ldnsutils ldns-key2ds:ldnsutils
WORK=$(mktemp -d /tmp/dns-load.XXXXXX)
mkdir -p "$WORK/logs"
trap cleanup EXIT
trap 'exit 130' INT TERM
log "work directory: $WORK"
CLK_TCK=$(getconf CLK_TCK) # /proc/PID/stat times are in these ticks
export CLK_TCK

# ---------------------------------------------------------------- hierarchy
NET=$(pick_loopback_net)
ROOT_IP=127.0.$NET.1 TLD_IP=127.0.$NET.2 LEAF_IP=127.0.$NET.3
make_zones "$WORK/zones"
start_nsd root "." "$ROOT_IP" "$WORK/zones/root.zone"
start_nsd tld "zz." "$TLD_IP" "$WORK/zones/zz.zone"
start_nsd leaf "bench.zz." "$LEAF_IP" "$WORK/zones/bench.zz.zone"
check_hierarchy
[[ $MODE == hierarchy ]] && {
  log "hierarchy OK; stopping"
  exit 0
}

# ---------------------------------------------------------------- inputs
[[ -x $DNSWARD ]] || {
  log "building dnsward (cargo build --release)"
  (cd "$REPO" && cargo build --release) >"$WORK/logs/cargo.log" 2>&1 || die "cargo build failed: $WORK/logs/cargo.log"
}
probe_dnssec
((NEED_SIGNED)) && build_signed_hierarchy
((NEED_LIST)) && prepare_lists
make_query_files "$WORK/q"

# ---------------------------------------------------------------- run
if [[ $MODE == reload ]]; then
  reload_mode
elif [[ $MODE == listcost ]]; then
  listcost_mode
elif [[ $MODE == querylog ]]; then
  querylog_mode
else
  compare_mode
fi
