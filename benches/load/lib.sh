# shellcheck shell=bash
# Functions for benches/dns-load.sh (sourced; reads the variables it sets).
# Every loop here is bounded in count; every process is started with `&`, its
# PID recorded in PIDS, and stopped by that PID in cleanup().

PIDS=()          # processes we started, in start order
declare -A NAME_OF=() # PID -> short name, for messages

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# ------------------------------------------------------------------ setup

# ensure_packages [command:package ...]: install what is missing (default:
# what dns-load.sh needs).
ensure_packages() {
  local missing=() cmd pkg
  local wanted=("$@")
  ((${#wanted[@]} > 0)) || wanted=(nsd:nsd unbound:unbound dnsperf:dnsperf dig:dnsutils curl:curl taskset:util-linux ss:iproute2)
  for cmd in "${wanted[@]}"; do
    pkg=${cmd#*:}
    command -v "${cmd%%:*}" >/dev/null 2>&1 || command -v "/usr/sbin/${cmd%%:*}" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  # No service is started from here; if apt starts one, it is not ours and we
  # stay off its addresses (pick_loopback_net, free_port).
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

cleanup() {
  local rc=$? i pid
  trap - EXIT
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[i]}"
  done
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    if [[ ${KEEP_TMP:-0} != 1 ]]; then
      # Keep the small things (results, logs, configs); drop the bulky ones.
      rm -rf "$WORK/zones" "$WORK/lists" "$WORK/unbound/blocklist.conf" "$WORK/q" "$WORK/runs"/*.out 2>/dev/null || true
    fi
    [[ -f $WORK/results.txt ]] && log "results: $WORK/results.txt"
    log "logs: $WORK/logs"
  fi
  exit "$rc"
}

# Is PID running (not gone, not a zombie)?
running() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) } # state is the field after "(comm)"
  [[ $st != Z* && $st != X* ]]
}

# Stop one process we started (only ever a PID from PIDS): SIGTERM, up to
# 10 s, then SIGKILL; then reap it and forget its PID so that a recycled PID
# is never signalled later.
stop_pid() {
  local pid=$1 i keep=()
  if running "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      log "${NAME_OF[$pid]:-pid $pid} did not stop in 10 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  for i in "${PIDS[@]}"; do [[ $i == "$pid" ]] || keep+=("$i"); done
  PIDS=(${keep[@]+"${keep[@]}"})
}

register() { # register PID NAME
  PIDS+=("$1")
  NAME_OF[$1]=$2
}

alive_or_die() { # alive_or_die PID LOGFILE
  running "$1" && return 0
  log "${NAME_OF[$1]:-pid $1} is gone; last lines of $2:"
  tail -n 20 "$2" >&2 || true
  die "${NAME_OF[$1]:-pid $1} exited"
}

# Local addresses with a listener on port 53 (UDP or TCP), one per line.
port53_listeners() {
  { ss -Hlnu 2>/dev/null || true; ss -Hlnt 2>/dev/null || true; } | awk '{print $4}' | grep -E ':53$' || true
}

# First N in 2..30 such that nothing listens on 127.0.N.{1,2,3}:53.
pick_loopback_net() {
  local busy n
  busy=$(port53_listeners)
  if grep -qE '^(0\.0\.0\.0|\*|\[::\]):53$' <<<"$busy"; then
    log "warning: something listens on port 53 of every address; NSD binding may fail"
  fi
  for ((n = 2; n <= 30; n++)); do
    if ! grep -qE "^127\.0\.$n\.[123]:53$" <<<"$busy"; then
      echo "$n"
      return 0
    fi
  done
  die "no free 127.0.N.{1,2,3}:53 for N in 2..30"
}

# A TCP+UDP port on 127.0.0.1 nobody listens on, from 20000..20999.
free_port() {
  local busy p i
  busy=$({ ss -Hlnu 2>/dev/null || true; ss -Hlnt 2>/dev/null || true; } | awk '{print $4}')
  for ((i = 0; i < 1000; i++)); do
    p=$((20000 + (RANDOM % 1000)))
    grep -qE "[:.]$p\$" <<<"$busy" || {
      echo "$p"
      return 0
    }
  done
  die "no free port in 20000..20999"
}

udp_rcvbuf_errors() { # system-wide UDP receive-buffer drops (/proc/net/snmp)
  awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp
}

cpu_ticks() { # utime+stime of the whole process, clock ticks
  local s
  s=$(<"/proc/$1/stat")
  s=${s##*) } # fields from 3 on (comm may contain spaces)
  # shellcheck disable=SC2086
  set -- $s
  echo $((${12} + ${13}))
}

# ------------------------------------------------------------------ NSD hierarchy

make_zones() { # make_zones DIR
  local d=$1
  mkdir -p "$d"
  cat >"$d/root.zone" <<EOF
\$ORIGIN .
\$TTL 86400
.             IN SOA a.root. hostmaster.root. 1 3600 900 604800 86400
.             IN NS  a.root.
a.root.       IN A   $ROOT_IP
zz.           IN NS  ns.zz.
ns.zz.        IN A   $TLD_IP
EOF
  cat >"$d/zz.zone" <<EOF
\$ORIGIN zz.
\$TTL 86400
@             IN SOA ns.zz. hostmaster.zz. 1 3600 900 604800 86400
@             IN NS  ns.zz.
ns            IN A   $TLD_IP
bench         IN NS  ns.bench.zz.
ns.bench      IN A   $LEAF_IP
EOF
  # Long TTLs (and a 1 h negative TTL) so nothing expires during a run.
  {
    cat <<EOF
\$ORIGIN bench.zz.
\$TTL 86400
@             IN SOA ns.bench.zz. hostmaster.bench.zz. 1 3600 900 604800 3600
@             IN NS  ns.bench.zz.
ns            IN A   $LEAF_IP
EOF
    awk -v n="$ZONE_NAMES" -v c="$CNAMES" 'BEGIN {
      # addresses in 198.18.0.0/15 (benchmarking range); data only, never contacted
      for (i = 0; i < n; i++)
        printf "h%d IN A 198.%d.%d.%d\n", i, 18 + int(i / 65536), int(i / 256) % 256, i % 256
      for (i = 0; i < c; i++) printf "c%d IN CNAME h%d\n", i, i
    }'
  } >"$d/bench.zz.zone"
  log "zones: bench.zz has $ZONE_NAMES A + $CNAMES CNAME names"
}

start_nsd() { # start_nsd LABEL ZONE ADDR ZONEFILE [ZONE_OPTION_LINES]
  local label=$1 zone=$2 addr=$3 zonefile=$4 extra=${5:-} d="$WORK/nsd-$1" pid i
  mkdir -p "$d"
  cat >"$d/nsd.conf" <<EOF
server:
    ip-address: $addr
    port: 53
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$WORK/logs/nsd-$label.log"
    verbosity: 1
    hide-version: yes
    # Debian builds NSD with response rate limiting: off, or the resolvers'
    # queries from 127.0.0.1 get dropped/truncated under load.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "$zone"
    zonefile: "$zonefile"
$extra
EOF
  nsd-checkconf "$d/nsd.conf" || die "nsd-checkconf $d/nsd.conf failed"
  taskset -c "$LOAD_CPU" nsd -d -c "$d/nsd.conf" >"$WORK/logs/nsd-$label.out" 2>&1 &
  pid=$!
  register "$pid" "nsd-$label"
  for ((i = 0; i < 120; i++)); do # up to ~60 s (the leaf zone takes a moment)
    alive_or_die "$pid" "$WORK/logs/nsd-$label.log"
    if dig +norec +time=1 +tries=1 @"$addr" "$zone" SOA 2>/dev/null | grep -q 'flags:.* aa'; then
      log "nsd-$label: $zone on $addr:53 (pid $pid)"
      return 0
    fi
    sleep 0.5
  done
  die "nsd-$label did not answer for $zone on $addr within 60 s"
}

check_hierarchy() {
  local out
  out=$(dig +norec +time=2 +tries=2 @"$ROOT_IP" h1.bench.zz A)
  grep -qE '^zz\.[[:space:]].*NS[[:space:]]+ns\.zz\.' <<<"$out" && grep -qE "^ns\.zz\.[[:space:]].*A[[:space:]]+$TLD_IP" <<<"$out" ||
    die "root $ROOT_IP does not refer h1.bench.zz to zz. with glue: $out"
  out=$(dig +norec +time=2 +tries=2 @"$TLD_IP" h1.bench.zz A)
  grep -qE '^bench\.zz\.[[:space:]].*NS[[:space:]]+ns\.bench\.zz\.' <<<"$out" && grep -q "$LEAF_IP" <<<"$out" ||
    die "zz. $TLD_IP does not refer h1.bench.zz to bench.zz. with glue: $out"
  out=$(dig +norec +time=2 +tries=2 @"$LEAF_IP" h1.bench.zz A)
  grep -q 'flags:.* aa' <<<"$out" && grep -qE 'h1\.bench\.zz\.[[:space:]].*A[[:space:]]+198\.18\.0\.1' <<<"$out" ||
    die "bench.zz. $LEAF_IP does not answer h1.bench.zz: $out"
  out=$(dig +norec +time=2 +tries=2 @"$LEAF_IP" c7.bench.zz A)
  grep -qE 'CNAME[[:space:]]+h7\.bench\.zz\.' <<<"$out" || die "bench.zz. CNAME c7 missing: $out"
  log "hierarchy: . -> zz. -> bench.zz. referrals with glue OK"
}

# ------------------------------------------------------------------ lists and query files

prepare_lists() {
  [[ -f $BLOCKLIST ]] || die "block list not found: $BLOCKLIST"
  mkdir -p "$WORK/lists" "$WORK/unbound"
  LIST_FILE=$WORK/lists/aggregate.txt
  if [[ $BLOCKLIST == *.gz ]]; then gzip -dc "$BLOCKLIST" >"$LIST_FILE"; else cp "$BLOCKLIST" "$LIST_FILE"; fi
  # The same names for Unbound, one local-zone each. Unbound refuses the whole
  # config on a bad or duplicate zone name, so keep the well-formed names only
  # (letters, digits, '-', '_'; labels 1..63; name <= 253), lowercased, unique.
  awk '{
      sub(/#.*/, ""); gsub(/[ \t\r]/, "")
      if ($0 == "" || $0 ~ /^\*\./) next
      n = tolower($0); sub(/\.$/, "", n)
      if (length(n) > 253 || n !~ /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/) next
      k = split(n, lab, ".")
      for (j = 1; j <= k; j++) if (length(lab[j]) > 63) next
      print n
    }' "$LIST_FILE" | sort -u >"$WORK/lists/names.sorted"
  if grep -qE '(^|\.)zz$' "$WORK/lists/names.sorted"; then
    die "the list covers the test TLD zz.; hit/cold numbers would be blocked answers"
  fi
  if [[ $MODE != reload ]]; then
    {
      echo "server:"
      awk '{printf "local-zone: \"%s.\" always_nxdomain\n", $0}' "$WORK/lists/names.sorted"
    } >"$WORK/unbound/blocklist.conf"
  fi
  LIST_LINES=$(wc -l <"$LIST_FILE")
  UNBOUND_ZONES=$(wc -l <"$WORK/lists/names.sorted")
  log "list: $LIST_LINES lines for dnsward, $UNBOUND_ZONES local-zones for unbound"
}

make_query_files() { # make_query_files DIR
  local d=$1 pool per k
  mkdir -p "$d"
  awk -v n="$HOT_NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.bench.zz A\n", i }' >"$d/hot.txt"
  # Mixed warm set: 60% A, 15% CNAME->A, 15% AAAA (NODATA), 10% NXDOMAIN.
  awk -v n="$HOT_NAMES" 'BEGIN {
      for (i = 0; i < int(n * 0.60); i++) printf "h%d.bench.zz A\n", i
      for (i = 0; i < int(n * 0.15); i++) printf "c%d.bench.zz A\n", i
      for (i = 0; i < int(n * 0.15); i++) printf "h%d.bench.zz AAAA\n", i
      for (i = 0; i < int(n * 0.10); i++) printf "nx%d.bench.zz A\n", i
    }' | shuf --random-source=<(yes) >"$d/mixed.txt"
  # Cold: two disjoint ranges of names above the hot ones, one per round; in a
  # round dnsward and unbound get the same names (each has its own cache, so
  # each run is cold and both servers resolve exactly the same work).
  pool=$((ZONE_NAMES - HOT_NAMES))
  per=$((pool / 2))
  COLD_PER_RUN=$per
  for ((k = 0; k < 2; k++)); do
    awk -v a=$((HOT_NAMES + k * per)) -v b=$((HOT_NAMES + (k + 1) * per)) \
      'BEGIN { for (i = a; i < b; i++) printf "h%d.bench.zz A\n", i }' >"$d/cold$k.txt"
  done
  ((NEED_LIST)) || return 0 # no list prepared (SCENARIOS without +1M)
  shuf -n "$BLOCK_QUERY_NAMES" --random-source=<(yes) "$WORK/lists/names.sorted" | awk '{print $0 " A"}' >"$d/blocked.txt"
  # reload mode: half warm mixed names, half listed names, interleaved
  paste -d '\n' <(head -n 5000 "$d/blocked.txt") <(for ((k = 0; k < 5; k++)); do cat "$d/mixed.txt"; done | head -n 5000) |
    grep -v '^$' >"$d/reload.txt"
}

# ------------------------------------------------------------------ servers

# write_dnsward_conf FILE WITH_LIST(0|1) [CACHE_LINES]: CACHE_LINES (TOML,
# one key per line) go into the [cache] table.
write_dnsward_conf() {
  cat >"$1" <<EOF
[server]
listen = ["127.0.0.1:0"]

[resolver]
mode = "recursive"
root_servers = ["$ROOT_IP"]
authority_allow = ["127.0.0.0/8"]
qname_minimisation = "$([[ ${QMIN:-yes} == yes ]] && echo relaxed || echo off)"

[cache]
max_entries = 1000000
${3:-}

[metrics]
listen = "127.0.0.1:0"

[reload]
watch = true
EOF
  # dns-load.sh sources load/signed.sh (dnssec_toml); the other benches
  # run on the unsigned hierarchy only, where validation must be off.
  if declare -F dnssec_toml >/dev/null; then
    dnssec_toml >>"$1"
  else
    printf '\n[dnssec]\nvalidation = false\n' >>"$1"
  fi
  if [[ $2 == 1 ]]; then
    cat >>"$1" <<EOF

[[lists]]
name = "aggregate-1m"
path = "$LIST_FILE"
format = "domains"
action = "nxdomain"
EOF
  fi
}

# start_dnsward LABEL CONF: sets DW_PID DW_PORT DW_HTTP
start_dnsward() {
  local label=$1 conf=$2 out="$WORK/logs/dnsward-$1.out" err="$WORK/logs/dnsward-$1.err" i line
  "$DNSWARD" check-config "$conf" >"$WORK/logs/dnsward-$label.check" 2>&1 ||
    die "dnsward check-config $conf failed: $(tail -n 5 "$WORK/logs/dnsward-$label.check")"
  taskset -c "$SERVER_CPU" "$DNSWARD" run --config "$conf" >"$out" 2>"$err" &
  DW_PID=$!
  register "$DW_PID" "dnsward-$label"
  DW_PORT="" DW_HTTP=""
  for ((i = 0; i < 1200; i++)); do # up to ~120 s
    alive_or_die "$DW_PID" "$err"
    line=$(grep -m1 '^listening dns udp+tcp ' "$out" || true)
    [[ -n $line ]] && DW_PORT=${line##*:}
    line=$(grep -m1 '^listening http ' "$out" || true)
    [[ -n $line ]] && DW_HTTP=${line#listening http }
    [[ -n $DW_PORT && -n $DW_HTTP ]] && break
    sleep 0.1
  done
  [[ -n $DW_PORT && -n $DW_HTTP ]] || die "dnsward-$label printed no listening lines in 120 s"
  for ((i = 0; i < 600; i++)); do # /readyz: every list loaded
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$DW_HTTP/readyz") == 200 ]] && break
    alive_or_die "$DW_PID" "$err"
    sleep 0.1
  done
  log "dnsward-$label: 127.0.0.1:$DW_PORT, metrics $DW_HTTP (pid $DW_PID)"
}

# write_unbound_conf FILE PORT WITH_LIST(0|1)
write_unbound_conf() {
  local d="$WORK/unbound"
  mkdir -p "$d"
  printf '.            3600000  NS  a.root.\na.root.      3600000  A   %s\n' "$ROOT_IP" >"$d/root.hints"
  cat >"$1" <<EOF
server:
    interface: 127.0.0.1@$2
    port: $2
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$d"
    pidfile: "$d/unbound-$2.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    # the authorities are on 127.0.N.x: allowed; DNSSEC only in the signed phase
    do-not-query-localhost: no
    root-hints: "$d/root.hints"
$(unbound_modules)
    qname-minimisation: ${QMIN:-yes}
    harden-referral-path: no
    prefetch: no
    # caches sized like dnsward's 1M entries
    msg-cache-size: 256m
    rrset-cache-size: 256m
    key-cache-size: 4m
    neg-cache-size: 4m
    num-queries-per-thread: 4096
    outgoing-range: 8192
    # so-rcvbuf/so-sndbuf left at the system default, like dnsward's sockets
    minimal-responses: yes
    statistics-interval: 0
EOF
  if [[ $3 == 1 ]]; then
    echo "    include: \"$d/blocklist.conf\"" >>"$1"
  fi
  printf 'remote-control:\n    control-enable: no\n' >>"$1"
}

# start_unbound LABEL WITH_LIST: sets UB_PID UB_PORT
start_unbound() {
  local label=$1 conf="$WORK/unbound/unbound-$1.conf" log="$WORK/logs/unbound-$1.log" i
  UB_PORT=$(free_port)
  write_unbound_conf "$conf" "$UB_PORT" "$2"
  taskset -c "$SERVER_CPU" unbound -d -c "$conf" >"$log" 2>&1 &
  UB_PID=$!
  register "$UB_PID" "unbound-$label"
  for ((i = 0; i < 600; i++)); do # up to ~5 min: 1M local-zones take a while
    alive_or_die "$UB_PID" "$log"
    if dig +time=1 +tries=1 -p "$UB_PORT" @127.0.0.1 localhost A 2>/dev/null | grep -q 'status: NOERROR'; then
      log "unbound-$label: 127.0.0.1:$UB_PORT (pid $UB_PID)"
      return 0
    fi
    sleep 0.5
  done
  die "unbound-$label did not answer within 5 min"
}

# ------------------------------------------------------------------ measuring

RUN_SEQ=0

# perf SCENARIO SERVER PID PORT FILE KIND [extra dnsperf args]
#   KIND: max (loop the file at full speed), once (each name once, full speed),
#         rate (fixed RATE qps, per-query latency recorded)
# Appends one line to $WORK/runs.tsv.
perf() {
  local scen=$1 srv=$2 pid=$3 port=$4 file=$5 kind=$6 out t0 t1 e0 e1 args
  shift 6
  RUN_SEQ=$((RUN_SEQ + 1))
  mkdir -p "$WORK/runs"
  out="$WORK/runs/$(printf %02d "$RUN_SEQ")-$scen-$srv.out"
  args=(-s 127.0.0.1 -p "$port" -d "$file" -l "$DURATION" -c "$CLIENTS" -t 5 -q "$OUTSTANDING")
  [[ $EDNS == 1 ]] && args+=(-e)
  case $kind in
  max) ;;
  once) args+=(-n 1) ;;
  rate) args+=(-Q "$RATE" -v) ;;
  esac
  [[ $srv == dnsward ]] && scrape "$WORK/m0.txt"
  e0=$(udp_rcvbuf_errors)
  t0=$(cpu_ticks "$pid")
  timeout -k 5 $((DURATION + 30)) taskset -c "$LOAD_CPU" dnsperf "${args[@]}" "$@" >"$out" 2>"$out.err" ||
    die "dnsperf failed ($scen $srv): $(tail -n 5 "$out.err")"
  t1=$(cpu_ticks "$pid")
  e1=$(udp_rcvbuf_errors)
  alive_or_die "$pid" "$WORK/logs/${NAME_OF[$pid]}.$([[ $srv == dnsward ]] && echo err || echo log)"
  record "$scen" "$srv" "$out" $((t1 - t0)) $((e1 - e0))
  if [[ $srv == dnsward && $kind != once ]]; then
    scrape "$WORK/m1.txt"
    local miss=$(($(metric_sum "$WORK/m1.txt" dnsward_cache_misses_total) - $(metric_sum "$WORK/m0.txt" dnsward_cache_misses_total)))
    ((miss == 0)) || echo "  $scen dnsward run $RUN_SEQ: $miss cache misses during a run meant to be all hits/blocks" >>"$WORK/notes.txt"
  fi
}

# percentiles DNSPERF_OUT: "p50 p99" in ms over the answered queries of a -v
# run (dnsperf prints "> RCODE NAME TYPE SECONDS" per answer), "-1 -1" if none
percentiles() {
  awk '/^> / && NF >= 5 && $2 != "T" { printf "%.6f\n", $NF * 1000 }' "$1" | sort -g |
    awk '{ v[NR] = $1 }
      function at(p,   i) { i = int(p * NR + 0.999999); return v[i < 1 ? 1 : i] }
      END { if (NR) printf "%.3f %.3f\n", at(0.50), at(0.99); else print "-1 -1" }'
}

# record SCEN SRV DNSPERF_OUT CPU_TICKS RCVBUF_DROPS: dnsperf's report -> runs.tsv
# columns: scenario server qps sent completed lost runtime_s cpu_s q/cpu-s
#          p50_ms p99_ms udp_rcvbuf_drops rcodes
record() {
  local scen=$1 srv=$2 out=$3 ticks=$4 drops=${5:-0} line p
  p=$(percentiles "$out")
  line=$(awk -v scen="$scen" -v srv="$srv" -v ticks="$ticks" -v hz="$CLK_TCK" -v drops="$drops" -v p50="${p% *}" -v p99="${p#* }" '
    /Queries sent:/      { sent = $3 }
    /Queries completed:/ { done = $3 }
    /Queries lost:/      { lost = $3 }
    /Run time \(s\):/    { rt = $4 }
    /Queries per second:/ { qps = $4 }
    /Response codes:/    { rc = $0; sub(/.*Response codes:[ \t]*/, "", rc); gsub(/ \([0-9.]+%\)/, "", rc); gsub(/ /, "=", rc); gsub(/,=/, ",", rc) }
    END {
      cpu = ticks / hz
      qpc = (cpu > 0) ? done / cpu : 0
      if (rc == "") rc = "-"
      printf "%s\t%s\t%.0f\t%d\t%d\t%d\t%.2f\t%.2f\t%.0f\t%.3f\t%.3f\t%d\t%s\n", scen, srv, qps, sent, done, lost, rt, cpu, qpc, p50, p99, drops, rc
    }' "$out")
  printf '%s\n' "$line" >>"$WORK/runs.tsv"
  awk -F'\t' '{ printf "  %-12s %-8s qps %7s  completed %8s  lost %5s  cpu %5ss (%3.0f%%)  q/cpu-s %7s%s  [%s]\n", $1, $2, $3, $5, $6, $8, ($7 > 0 ? 100 * $8 / $7 : 0), $9, ($10 >= 0 ? sprintf("  p50 %s ms  p99 %s ms", $10, $11) : ""), $13 }' <<<"$line" >&2
}

# warm SERVER PORT FILE...: ask every name once (recursion fills the cache),
# then once more, and check that the second pass lost nothing.
warm() {
  local srv=$1 port=$2 f out
  shift 2
  for f in "$@"; do
    out="$WORK/logs/warm-$srv-$(basename "$f").out"
    timeout -k 5 120 taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$f" -n 1 -q 50 -t 5 >"$out.1" 2>&1 || true
    timeout -k 5 120 taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$f" -n 1 -q 50 -t 5 >"$out" 2>&1 || true
    grep -q 'Queries lost:[[:space:]]*0 ' "$out" || log "warning: warm-up of $srv with $(basename "$f") lost queries: $(grep -E 'lost|Response codes' "$out" | tr -s ' ' | tr '\n' ' ')"
  done
}

# check_answer PORT NAME TYPE EXPECTED-REGEX
check_answer() {
  local out
  out=$(dig +time=3 +tries=1 -p "$1" @127.0.0.1 "$2" "$3" 2>&1 || true)
  grep -qE "$4" <<<"$out" || die "127.0.0.1:$1 $2 $3: expected /$4/, got: $(tr '\n' ' ' <<<"$out" | tr -s ' ' | cut -c1-400)"
}

sanity_checks() { # sanity_checks PORT WITH_LIST
  check_answer "$1" h1.bench.zz A 'h1\.bench\.zz\..*A[[:space:]]+198\.18\.0\.1'
  check_answer "$1" c3.bench.zz A 'h3\.bench\.zz\..*A[[:space:]]+198\.18\.0\.3'
  check_answer "$1" nx1.bench.zz A 'status: NXDOMAIN'
  if [[ $2 == 1 ]]; then
    check_answer "$1" "$(head -n 1 "$WORK/q/blocked.txt" | cut -d' ' -f1)" A 'status: NXDOMAIN'
  fi
}

scrape() { # scrape FILE: dnsward metrics snapshot
  curl -s --max-time 5 "http://$DW_HTTP/metrics" >"$1" || true
}

# ------------------------------------------------------------------ compare mode

compare_mode() {
  local phase with scen r s
  : >"$WORK/runs.tsv"
  mkdir -p "$WORK/dnsward"
  for phase in nolist list1m signed; do
    with=0
    [[ $phase == list1m ]] && with=1
    # the phase's scenarios, as asked for in SCENARIOS
    local wanted=() all
    case $phase in
    nolist) all="hit cold latency" ;;
    list1m) all="hit+1M cold+1M blocked+1M latency+1M" ;;
    signed) all="hit-signed cold-signed" ;;
    esac
    for scen in $all; do [[ " $SCENARIOS " == *" $scen "* ]] && wanted+=("$scen"); done
    ((${#wanted[@]} > 0)) || continue
    log "== phase $phase"
    local unsigned_root=$ROOT_IP
    # the signed phase: the signed hierarchy's root, validation on in both
    [[ $phase == signed ]] && ROOT_IP=$SIGNED_ROOT_IP VALIDATE=1
    write_dnsward_conf "$WORK/dnsward/$phase.toml" "$with"
    start_dnsward "$phase" "$WORK/dnsward/$phase.toml"
    start_unbound "$phase" "$with"
    ROOT_IP=$unsigned_root VALIDATE=0
    declare -A PID_OF=([dnsward]=$DW_PID [unbound]=$UB_PID)
    declare -A PORT_OF=([dnsward]=$DW_PORT [unbound]=$UB_PORT)
    for s in dnsward unbound; do
      sanity_checks "${PORT_OF[$s]}" "$with"
      [[ $phase == signed ]] && signed_checks "${PORT_OF[$s]}"
      warm "$s" "${PORT_OF[$s]}" "$WORK/q/hot.txt" "$WORK/q/mixed.txt"
    done
    if [[ $phase == signed ]]; then
      for scen in "${wanted[@]}"; do
        log "-- $scen"
        for r in 1 2; do
          for s in dnsward unbound; do
            case $scen in
            hit-signed) perf "$scen" "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/hot.txt" max ;;
            # fresh processes in this phase: the same names are cold again
            cold-signed) perf "$scen" "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/cold$((r - 1)).txt" once ;;
            esac
          done
        done
      done
    elif [[ $phase == nolist ]]; then
      for scen in "${wanted[@]}"; do
        log "-- $scen"
        for r in 1 2; do
          for s in dnsward unbound; do
            case $scen in
            hit) perf hit "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/hot.txt" max ;;
            cold) perf cold "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/cold$((r - 1)).txt" once ;;
            latency) perf latency "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/mixed.txt" rate ;;
            esac
          done
        done
      done
    else
      for scen in "${wanted[@]}"; do
        log "-- $scen"
        for r in 1 2; do
          for s in dnsward unbound; do
            case $scen in
            hit+1M) perf "$scen" "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/hot.txt" max ;;
            # fresh processes in this phase: the same names are cold again
            cold+1M) perf "$scen" "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/cold$((r - 1)).txt" once ;;
            blocked+1M) perf "$scen" "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/blocked.txt" max ;;
            latency+1M) perf "$scen" "$s" "${PID_OF[$s]}" "${PORT_OF[$s]}" "$WORK/q/mixed.txt" rate ;;
            esac
          done
        done
      done
    fi
    scrape "$WORK/logs/metrics-$phase.txt"
    log "dnsward metrics ($phase): $(grep -E '^dnsward_(rejected_queries_total|upstream_errors_total|list_entries|cache_entries)' "$WORK/logs/metrics-$phase.txt" | tr '\n' ' ')"
    stop_pid "$UB_PID"
    stop_pid "$DW_PID"
  done
  summarize
}

summarize() {
  local res="$WORK/results.txt" f
  {
    echo "dnsward vs unbound on loopback ($(date -u +%FT%TZ), $(nproc) cores, $(uname -r), load avg $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "servers pinned to core $SERVER_CPU, dnsperf+nsd to core $LOAD_CPU; DURATION=${DURATION}s per run; mean of 2 runs each (order A B A B)"
    echo "dnsperf -c $CLIENTS -q $OUTSTANDING$([[ $EDNS == 1 ]] && echo ' -e'); latency runs at -Q $RATE; cold: $COLD_PER_RUN fresh names per round; list: $LIST_LINES lines (unbound: $UNBOUND_ZONES local-zones)"
    echo "dnsward: $("$DNSWARD" --version 2>/dev/null || echo "$DNSWARD") @ $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); unbound $(unbound -V 2>/dev/null | awk 'NR == 1 {print $2}'); nsd $(nsd -v 2>&1 | awk 'NR == 1 {print $3}'); dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')"
    echo
    awk -F'\t' '
      { k = $1 SUBSEP $2; n[k]++; qps[k] += $3; qpc[k] += $9; lost[k] += $6; rt[k] += $7; cpu[k] += $8
        if ($10 >= 0) { p50[k] += $10; p99[k] += $11; np[k]++ }
        if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 } }
      function m(a, k) { return n[k] ? a[k] / n[k] : 0 }
      function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }
      function busy(k) { return rt[k] > 0 ? 100 * cpu[k] / rt[k] : 0 }
      END {
        printf "%-12s | %11s | %11s | %5s | %15s | %15s | %5s | %11s | %9s\n", "scenario", "dnsward qps", "unbound qps", "ratio", "dnsward q/CPU-s", "unbound q/CPU-s", "ratio", "lost d/u", "CPU% d/u"
        printf "%s\n", "-------------+-------------+-------------+-------+-----------------+-----------------+-------+-------------+----------"
        for (i = 1; i <= ns; i++) {
          s = order[i]; d = s SUBSEP "dnsward"; u = s SUBSEP "unbound"
          printf "%-12s | %11.0f | %11.0f | %5s | %15.0f | %15.0f | %5s | %11s | %4.0f/%-4.0f\n", s, m(qps, d), m(qps, u), ratio(m(qps, d), m(qps, u)), m(qpc, d), m(qpc, u), ratio(m(qpc, d), m(qpc, u)), lost[d] "/" lost[u], busy(d), busy(u)
        }
        printf "\n%-12s | %11s | %11s | %11s | %11s\n", "latency (ms)", "dnsward p50", "dnsward p99", "unbound p50", "unbound p99"
        printf "%s\n", "-------------+-------------+-------------+-------------+------------"
        for (i = 1; i <= ns; i++) {
          s = order[i]; d = s SUBSEP "dnsward"; u = s SUBSEP "unbound"
          if (!np[d] && !np[u]) continue
          printf "%-12s | %11.3f | %11.3f | %11.3f | %11.3f\n", s, np[d] ? p50[d] / np[d] : -1, np[d] ? p99[d] / np[d] : -1, np[u] ? p50[u] / np[u] : -1, np[u] ? p99[u] / np[u] : -1
        }
      }' "$WORK/runs.tsv"
    echo
    echo "qps = dnsperf's completed queries per second; q/CPU-s = completed / server CPU seconds (utime+stime from /proc/PID/stat);"
    echo "CPU% = server CPU time / run time (below ~95% at full speed: the load generator or the machine, not the server, set the qps)."
    echo
    echo "notes:"
    awk -F'\t' -v d="$DURATION" '
      $1 ~ /^cold/ && $7 < d - 0.5 { printf "  %s run of %s used all its names in %.1f s (< DURATION); raise ZONE_NAMES for longer cold runs\n", $1, $2, $7 }
      $12 > 0 { k = $1 " " $2; if (k in drops) drops[k] = drops[k] "+" $12; else { ord[++n] = k; drops[k] = $12 } }
      END { for (i = 1; i <= n; i++) printf "  %s: UDP receive-buffer drops on the machine during the runs: %s (/proc/net/snmp RcvbufErrors)\n", ord[i], drops[ord[i]] }' "$WORK/runs.tsv"
    [[ -f $WORK/notes.txt ]] && cat "$WORK/notes.txt"
    for f in "$WORK"/logs/metrics-*.txt; do
      [[ -f $f ]] || continue
      echo "  dnsward $(basename "$f" .txt): $(grep -E '^dnsward_(rejected_queries_total|upstream_errors_total|list_entries|cache_entries|list_reload_failures_total)' "$f" | tr '\n' ' ')"
    done
    for f in "$WORK"/logs/dnsward-*.err "$WORK"/logs/unbound-*.log; do
      [[ -f $f ]] || continue
      echo "  $(basename "$f"): $(grep -ciE 'warn|error' "$f" || true) warning/error lines"
    done
    echo
    echo "runs (scenario server qps sent completed lost runtime_s cpu_s q/cpu-s p50_ms p99_ms udp_rcvbuf_drops rcodes):"
    sed 's/^/  /' "$WORK/runs.tsv"
  } >"$res"
  [[ -z $RESULTS ]] || cp "$res" "$RESULTS"
  echo
  cat "$res"
  echo
  echo "table written to $res${RESULTS:+ (and $RESULTS)}"
}

# ------------------------------------------------------------------ reload mode

# listcost_mode: what the 1M list costs cache hits, as one A/B. The compare
# mode's hit and hit+1M rows come from different processes minutes apart, and
# on a shared VM that gap alone moves qps by 10%; here two dnsward processes
# (no list, 1M list) run side by side and take the same hot names at max rate
# in turn, ROUNDS times each (A B A B ...).
listcost_mode() {
  local r a_pid a_port a_http b_pid b_port b_http res="$WORK/results.txt"
  : >"$WORK/runs.tsv"
  mkdir -p "$WORK/dnsward"
  write_dnsward_conf "$WORK/dnsward/nolist.toml" 0
  write_dnsward_conf "$WORK/dnsward/list1m.toml" 1
  start_dnsward nolist "$WORK/dnsward/nolist.toml"
  a_pid=$DW_PID a_port=$DW_PORT a_http=$DW_HTTP
  start_dnsward list1m "$WORK/dnsward/list1m.toml"
  b_pid=$DW_PID b_port=$DW_PORT b_http=$DW_HTTP
  sanity_checks "$a_port" 0
  sanity_checks "$b_port" 1
  warm dnsward-nolist "$a_port" "$WORK/q/hot.txt" "$WORK/q/mixed.txt"
  warm dnsward-list1m "$b_port" "$WORK/q/hot.txt" "$WORK/q/mixed.txt"
  for ((r = 1; r <= ROUNDS; r++)); do
    DW_HTTP=$a_http perf hit-nolist dnsward "$a_pid" "$a_port" "$WORK/q/hot.txt" max
    DW_HTTP=$b_http perf hit-1M dnsward "$b_pid" "$b_port" "$WORK/q/hot.txt" max
  done
  {
    echo "the 1M list's cost on cache hits ($(date -u +%FT%TZ), load avg $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "two dnsward processes side by side on core $SERVER_CPU, dnsperf on core $LOAD_CPU; $ROUNDS rounds of ${DURATION}s each, alternated"
    echo "dnsward: $("$DNSWARD" --version 2>/dev/null || echo "$DNSWARD") @ $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    awk -F'\t' '
      { n[$1]++; qps[$1] += $3; qpc[$1] += $9; lost[$1] += $6; printf "  round %d  %-10s qps %8.0f  q/CPU-s %8.0f  lost %d\n", n[$1], $1, $3, $9, $6 }
      END {
        a = "hit-nolist"; b = "hit-1M"
        if (!n[a] || !n[b]) exit 1
        printf "\nmean: no list %.0f qps, %.0f q/CPU-s; 1M list %.0f qps, %.0f q/CPU-s\n", qps[a] / n[a], qpc[a] / n[a], qps[b] / n[b], qpc[b] / n[b]
        printf "1M list / no list: qps %.3f, q/CPU-s %.3f (goal: qps >= 0.97); lost %d / %d\n", (qps[b] / n[b]) / (qps[a] / n[a]), (qpc[b] / n[b]) / (qpc[a] / n[a]), lost[b], lost[a]
      }' "$WORK/runs.tsv"
  } >"$res" || die "listcost: no complete rounds in $WORK/runs.tsv"
  cat "$res"
  [[ -n $RESULTS ]] && cp "$res" "$RESULTS"
  log "results: $res"
}

# querylog_mode: what the query log costs blocked answers, as one A/B: two
# dnsward processes with the 1M list side by side, one writing every
# blocked answer to [querylog] (defaults: /24 and /56, 100 MiB files, keep
# 10) in $WORK, take the listed names in turn, ROUNDS times each: at max
# rate, then at QLOG_RATE qps (default 50,000), where CPU per answer is the
# figure to compare (max rate is often bound by dnsperf, not dnsward).
# Both processes are pinned to SERVER_CPU, so the log's writer thread
# shares the core with the answering threads: its cost shows in qps.
querylog_mode() {
  local r a_pid a_port a_http b_pid b_port b_http res="$WORK/results.txt"
  : >"$WORK/runs.tsv"
  mkdir -p "$WORK/dnsward" "$WORK/qlog"
  write_dnsward_conf "$WORK/dnsward/off.toml" 1
  write_dnsward_conf "$WORK/dnsward/on.toml" 1
  printf '\n[querylog]\npath = "%s"\n' "$WORK/qlog/queries.jsonl" >>"$WORK/dnsward/on.toml"
  start_dnsward qlog-off "$WORK/dnsward/off.toml"
  a_pid=$DW_PID a_port=$DW_PORT a_http=$DW_HTTP
  start_dnsward qlog-on "$WORK/dnsward/on.toml"
  b_pid=$DW_PID b_port=$DW_PORT b_http=$DW_HTTP
  sanity_checks "$a_port" 1
  sanity_checks "$b_port" 1
  for ((r = 1; r <= ROUNDS; r++)); do
    DW_HTTP=$a_http perf blocked-off dnsward "$a_pid" "$a_port" "$WORK/q/blocked.txt" max
    DW_HTTP=$b_http perf blocked-qlog dnsward "$b_pid" "$b_port" "$WORK/q/blocked.txt" max
    # At a fixed QLOG_RATE (default 50,000 blocked qps): CPU per answer.
    RATE=${QLOG_RATE:-50000} DW_HTTP=$a_http perf fixed-off dnsward "$a_pid" "$a_port" "$WORK/q/blocked.txt" rate
    RATE=${QLOG_RATE:-50000} DW_HTTP=$b_http perf fixed-qlog dnsward "$b_pid" "$b_port" "$WORK/q/blocked.txt" rate
  done
  DW_HTTP=$b_http scrape "$WORK/logs/metrics-qlog-on.txt"
  {
    echo "the query log's cost on blocked answers ($(date -u +%FT%TZ), load avg $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "two dnsward processes with the 1M list side by side on core $SERVER_CPU, dnsperf on core $LOAD_CPU; $ROUNDS rounds of ${DURATION}s each, alternated"
    echo "dnsward: $("$DNSWARD" --version 2>/dev/null || echo "$DNSWARD") @ $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "query log: $(cat "$WORK"/qlog/queries.jsonl* 2>/dev/null | wc -l) lines written, $(grep -h '^dnsward_querylog_dropped_total' "$WORK/logs/metrics-qlog-on.txt" 2>/dev/null | awk '{print $2}') dropped"
    echo
    awk -F'\t' '
      { n[$1]++; qps[$1] += $3; qpc[$1] += $9; lost[$1] += $6; printf "  round %d  %-12s qps %8.0f  q/CPU-s %8.0f  lost %d\n", n[$1], $1, $3, $9, $6 }
      END {
        a = "blocked-off"; b = "blocked-qlog"
        if (!n[a] || !n[b]) exit 1
        printf "\nmean: query log off %.0f qps, %.0f q/CPU-s; on %.0f qps, %.0f q/CPU-s\n", qps[a] / n[a], qpc[a] / n[a], qps[b] / n[b], qpc[b] / n[b]
        printf "on / off at max rate: qps %.3f, q/CPU-s %.3f; lost %d / %d\n", (qps[b] / n[b]) / (qps[a] / n[a]), (qpc[b] / n[b]) / (qpc[a] / n[a]), lost[b], lost[a]
        a = "fixed-off"; b = "fixed-qlog"
        if (!n[a] || !n[b]) exit 1
        printf "at a fixed rate: off %.0f qps, %.0f q/CPU-s; on %.0f qps, %.0f q/CPU-s\n", qps[a] / n[a], qpc[a] / n[a], qps[b] / n[b], qpc[b] / n[b]
        printf "on / off at a fixed rate: q/CPU-s %.3f (goal: >= 0.90); lost %d / %d\n", (qpc[b] / n[b]) / (qpc[a] / n[a]), lost[b], lost[a]
      }' "$WORK/runs.tsv"
  } >"$res" || die "querylog: no complete rounds in $WORK/runs.tsv"
  cat "$res"
  [[ -n $RESULTS ]] && cp "$res" "$RESULTS"
  log "results: $res"
}

reload_mode() {
  local out t0 t1 i dp swaps=0 before after fails_before fails_after
  ((RELOAD_SWAPS * RELOAD_INTERVAL < RELOAD_DURATION)) ||
    log "warning: $RELOAD_SWAPS swaps x ${RELOAD_INTERVAL}s do not fit in RELOAD_DURATION=${RELOAD_DURATION}s; swaps stop with the load"
  mkdir -p "$WORK/dnsward" "$WORK/runs"
  cp "$LIST_FILE" "$WORK/lists/base.txt.orig"
  write_dnsward_conf "$WORK/dnsward/reload.toml" 1
  start_dnsward reload "$WORK/dnsward/reload.toml"
  sanity_checks "$DW_PORT" 1
  warm dnsward "$DW_PORT" "$WORK/q/mixed.txt"
  scrape "$WORK/logs/metrics-reload-before.txt"
  before=$(metric_sum "$WORK/logs/metrics-reload-before.txt" dnsward_list_reloads_total)
  fails_before=$(metric_sum "$WORK/logs/metrics-reload-before.txt" dnsward_list_reload_failures_total)
  out="$WORK/runs/reload-dnsward.out"
  log "steady load: ${RELOAD_RATE} qps for ${RELOAD_DURATION}s; swapping the list $RELOAD_SWAPS times every ${RELOAD_INTERVAL}s"
  t0=$(cpu_ticks "$DW_PID")
  local args=(-s 127.0.0.1 -p "$DW_PORT" -d "$WORK/q/reload.txt" -l "$RELOAD_DURATION" -Q "$RELOAD_RATE" -c "$CLIENTS" -q "$OUTSTANDING" -t 5 -v)
  [[ $EDNS == 1 ]] && args+=(-e)
  timeout -k 5 $((RELOAD_DURATION + 30)) taskset -c "$LOAD_CPU" dnsperf "${args[@]}" >"$out" 2>"$out.err" &
  dp=$!
  register "$dp" dnsperf-reload
  for ((i = 1; i <= RELOAD_SWAPS; i++)); do
    sleep "$RELOAD_INTERVAL"
    running "$dp" || break
    # a modified copy (one marker name more each time), then mv over the list
    { cat "$WORK/lists/base.txt.orig"; echo "swap$i.reload-marker.invalid"; } >"$WORK/lists/.aggregate.txt.new"
    mv -f "$WORK/lists/.aggregate.txt.new" "$LIST_FILE"
    swaps=$i
    log "swap $i"
  done
  wait "$dp" || die "dnsperf failed: $(tail -n 5 "$out.err")"
  stop_pid "$dp" # already done: just forget its PID
  t1=$(cpu_ticks "$DW_PID")
  alive_or_die "$DW_PID" "$WORK/logs/dnsward-reload.err"
  sleep 2 # let the last reload settle before reading the counters
  scrape "$WORK/logs/metrics-reload-after.txt"
  after=$(metric_sum "$WORK/logs/metrics-reload-after.txt" dnsward_list_reloads_total)
  fails_after=$(metric_sum "$WORK/logs/metrics-reload-after.txt" dnsward_list_reload_failures_total)
  local marker="NO"
  if ((swaps > 0)) && dig +time=3 +tries=1 -p "$DW_PORT" @127.0.0.1 "swap$swaps.reload-marker.invalid" A 2>/dev/null | grep -q 'status: NXDOMAIN'; then
    marker=yes
  fi
  : >"$WORK/runs.tsv"
  record reload dnsward "$out" $((t1 - t0)) 2>/dev/null
  local res="$WORK/results.txt"
  {
    echo "dnsward list reload under load ($(date -u +%FT%TZ)); list $LIST_LINES lines, swapped $swaps times (write copy + mv) every ${RELOAD_INTERVAL}s"
    echo "load: dnsperf -Q $RELOAD_RATE -l $RELOAD_DURATION -c $CLIENTS, half warm mixed names, half listed names"
    awk -v slow="$SLOW_MS" '
      /^> / && NF >= 5 { if ($2 == "T") { to++; next } ms = $NF * 1000; n++; if (ms > slow) s++; if (ms > mx) mx = ms }
      /Queries sent:/ { sent = $3 } /Queries completed:/ { done = $3 } /Queries lost:/ { lost = $3 }
      /Response codes:/ { rc = $0; sub(/.*Response codes:[ \t]*/, "", rc) }
      END {
        printf "queries sent %d, completed %d, lost %d\n", sent, done, lost
        printf "answers slower than %d ms: %d of %d (max %.1f ms)\n", slow, s, n, mx
        printf "response codes: %s\n", rc
      }' "$out"
    awk -F'\t' '{ printf "latency p50 %.3f ms, p99 %.3f ms; dnsward CPU %.2f s, %s q/CPU-s\n", $10, $11, $8, $9 }' "$WORK/runs.tsv"
    echo "dnsward_list_reloads_total: $before -> $after (+$((after - before)) for $swaps swaps); reload failures: $fails_before -> $fails_after"
    echo "last swap visible (swap$swaps.reload-marker.invalid blocked): $marker"
    echo "dnsward log lines at WARN/ERROR: $(grep -cE 'WARN|ERROR' "$WORK/logs/dnsward-reload.err" || true)"
  } >"$res"
  [[ -z $RESULTS ]] || cp "$res" "$RESULTS"
  echo
  cat "$res"
  echo
  echo "report written to $res${RESULTS:+ (and $RESULTS)}"
}

metric_sum() { # metric_sum FILE NAME: sum of every series of NAME
  awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d\n", s }' "$1"
}
