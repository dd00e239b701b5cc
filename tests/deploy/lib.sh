# shellcheck shell=bash
# tests/deploy/lib.sh: a live dnsward scraped by a live Prometheus, both on
# loopback, for tests/deploy/check.sh (panel evaluation) and
# tests/deploy/render-graph.sh (PNG). Sourced after benches/load/lib.sh, whose
# NSD hierarchy, process registry (PIDS, stop by PID) and cleanup it reuses.
#
# live_stack: sets WORK (if unset), DW_PID DW_PORT DW_HTTP PROM_PID PROM_PORT.
#   NSD: `.` 127.0.N.1, `zz.` 127.0.N.2, `bench.zz.` 127.0.N.3 (ZONE_NAMES
#   names), and `dead.zz.` delegated to 127.0.N.4 where nothing listens, so
#   its names end in SERVFAIL.
#   NSD also serves `rpz.test.` on 127.0.N.5 (AXFR to loopback).
#   dnsward (target/debug/dnsward): recursive, two enforced lists, one
#   dry-run list and one transferred from 127.0.N.5 (`orders`), [ratelimit] with 127.0.0.1 exempt and a tiny budget for
#   every other source.
#   Prometheus: scrapes dnsward every second and loads
#   deploy/prometheus/{rules,alerts}.yml, evaluated every second.
# live_traffic: a bounded mix (about 400 queries: answers, cache hits,
#   NODATA, NXDOMAIN, blocked, blocked by CNAME chain, dry-run, SERVFAIL, TCP, rate-limited from
#   127.0.0.77), one refused and one successful list reload.

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$DEPLOY_DIR/../.." && pwd)}
# shellcheck source=benches/load/lib.sh
source "$REPO/benches/load/lib.sh"

# Every CPU: the NSD and dnsward processes here are tiny.
LOAD_CPU=0-$(($(nproc) - 1))
SERVER_CPU=$LOAD_CPU
export ZONE_NAMES=${ZONE_NAMES:-300} CNAMES=${CNAMES:-30}

# EXIT trap: benches/load/lib.sh's cleanup (stops every process by PID,
# keeps the logs), after dropping the bulky copies (binary, TSDB).
deploy_cleanup() {
  local rc=$?
  [[ -n ${WORK:-} ]] && rm -rf "$WORK/dnsward" "$WORK/prometheus/data"
  (exit "$rc")
  cleanup
}

live_stack() {
  WORK=${WORK:-$(mktemp -d /tmp/dnsward-deploy.XXXXXX)}
  mkdir -p "$WORK/logs" "$WORK/lists"
  (cd "$REPO" && cargo build --quiet --bin dnsward) || die "cargo build failed"
  DNSWARD=$WORK/dnsward
  cp "$REPO/target/debug/dnsward" "$DNSWARD"
  NET=$(pick_loopback_net)
  ROOT_IP=127.0.$NET.1 TLD_IP=127.0.$NET.2 LEAF_IP=127.0.$NET.3 DEAD_IP=127.0.$NET.4
  make_zones "$WORK/zones"
  cat >>"$WORK/zones/zz.zone" <<ZONE
dead          IN NS  ns.dead.zz.
ns.dead       IN A   $DEAD_IP
ZONE
  start_nsd root . "$ROOT_IP" "$WORK/zones/root.zone"
  start_nsd tld zz. "$TLD_IP" "$WORK/zones/zz.zone"
  start_nsd leaf bench.zz. "$LEAF_IP" "$WORK/zones/bench.zz.zone"
  # An RPZ primary for the transferred list "orders" (AXFR from loopback),
  # so the transfer series (serial, transfers, expired) have data.
  RPZ_IP=127.0.$NET.5
  cat >"$WORK/zones/rpz.test.zone" <<ZONE
\$ORIGIN rpz.test.
@ 300 IN SOA ns.rpz.test. h.rpz.test. 7 3600 60 86400 30
@ 300 IN NS ns.rpz.test.
ordered.rpz.example 300 IN CNAME .
ZONE
  # The seed dnsward starts from: serial 6, so dnsward asks for IXFR from 6.
  # (NSD's answer, without an IXFR journal, is currently refused by dnsward
  # as malformed; the panels still get their series: the seed's serial,
  # dnsward_list_expired 0, and dnsward_list_transfer_total{result!="success"}.)
  sed -e 's/ 7 3600 / 6 3600 /' -e 's/^ordered\.rpz/seed.rpz/' "$WORK/zones/rpz.test.zone" >"$WORK/lists/orders.rpz"
  start_nsd rpz rpz.test. "$RPZ_IP" "$WORK/zones/rpz.test.zone" "    provide-xfr: 127.0.0.0/8 NOKEY"

  awk 'BEGIN { for (i = 0; i < 40; i++) printf "ordered%d.example\n", i }' >"$WORK/lists/court.txt"
  # h25.bench.zz too: c25.bench.zz (a CNAME to it) is then blocked by chain.
  { awk 'BEGIN { for (i = 0; i < 20; i++) printf "0.0.0.0 malware%d.example\n", i }'; echo "0.0.0.0 h25.bench.zz"; } >"$WORK/lists/malware.hosts"
  awk 'BEGIN { for (i = 0; i < 10; i++) printf "trial%d.example\n", i }' >"$WORK/lists/trial.txt"
  cat >"$WORK/dnsward.toml" <<CONF
[server]
listen = ["127.0.0.1:0"]

[resolver]
mode = "recursive"
root_servers = ["$ROOT_IP"]
authority_allow = ["127.0.0.0/8"]
timeout_ms = 1000

[metrics]
listen = "127.0.0.1:0"

[reload]
watch = false

# The loopback hierarchy is unsigned.
[dnssec]
validation = false

[ratelimit]
qps = 1
burst = 2
slip = 2
exempt = ["127.0.0.1/32"]

[[lists]]
name = "court"
path = "$WORK/lists/court.txt"
action = "sinkhole"
ede = 16

[[lists]]
name = "malware"
path = "$WORK/lists/malware.hosts"
format = "hosts"
action = "nxdomain"

[[lists]]
name = "trial"
path = "$WORK/lists/trial.txt"
mode = "dry-run"

[[lists]]
name = "orders"
format = "rpz"
path = "$WORK/lists/orders.rpz"
[lists.transfer]
primaries = ["$RPZ_IP:53"]
zone = "rpz.test."
retry_secs = 1
timeout_secs = 5
CONF
  start_dnsward deploy "$WORK/dnsward.toml"

  PROM_PORT=$(free_port)
  mkdir -p "$WORK/prometheus"
  cp "$REPO/deploy/prometheus/rules.yml" "$REPO/deploy/prometheus/alerts.yml" "$WORK/prometheus/"
  cat >"$WORK/prometheus/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [rules.yml, alerts.yml]
scrape_configs:
  - job_name: dnsward
    static_configs:
      - targets: ["$DW_HTTP"]
PROM
  promtool check config "$WORK/prometheus/prometheus.yml" >"$WORK/logs/promtool-config.out" 2>&1 ||
    die "promtool check config: $(tail -n 5 "$WORK/logs/promtool-config.out")"
  prometheus --config.file="$WORK/prometheus/prometheus.yml" \
    --storage.tsdb.path="$WORK/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" \
    >"$WORK/logs/prometheus.log" 2>&1 </dev/null &
  PROM_PID=$!
  register "$PROM_PID" prometheus
  local i
  for ((i = 0; i < 300; i++)); do # up to 30 s
    alive_or_die "$PROM_PID" "$WORK/logs/prometheus.log"
    curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" 2>/dev/null | grep -qi ready && break
    sleep 0.1
  done
  ((i < 300)) || die "prometheus on 127.0.0.1:$PROM_PORT not ready in 30 s"
  for ((i = 0; i < 300; i++)); do # the first scrape
    curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up" | grep -q '"value":\[[0-9.]*,"1"\]' && break
    sleep 0.1
  done
  ((i < 300)) || die "prometheus did not scrape dnsward at $DW_HTTP in 30 s"
  log "prometheus: 127.0.0.1:$PROM_PORT scraping $DW_HTTP (pid $PROM_PID)"
}

# q ARGS...: one bounded dig run against dnsward (several names per run).
q() {
  timeout -k 2 60 dig -p "$DW_PORT" @127.0.0.1 +tries=1 +time=2 "$@" >>"$WORK/logs/traffic.out" 2>&1 || true
}

# live_traffic [OFFSET]: OFFSET shifts the resolved names (h<OFFSET>..), so
# repeated rounds miss the cache again; OFFSET + 60 <= ZONE_NAMES.
live_traffic() {
  local names i off=${1:-0}
  names=$(awk -v o="$off" 'BEGIN { for (i = o; i < o + 60; i++) printf "h%d.bench.zz ", i }')
  # shellcheck disable=SC2086 # one word per name
  {
    q $names                                  # resolved: upstream latency
    q $names                                  # cache hits
    q +tcp $(awk 'BEGIN { for (i = 0; i < 20; i++) printf "c%d.bench.zz ", i }')
    q $(awk 'BEGIN { for (i = 0; i < 20; i++) printf "h%d.bench.zz AAAA ", i }')
    q $(awk 'BEGIN { for (i = 0; i < 20; i++) printf "nx%d.bench.zz ", i }')
    q $(awk 'BEGIN { for (i = 0; i < 20; i++) printf "ordered%d.example ", i }')
    q $(awk 'BEGIN { for (i = 0; i < 10; i++) printf "malware%d.example ", i }')
    q c25.bench.zz
    q $(awk 'BEGIN { for (i = 0; i < 5; i++) printf "trial%d.example ", i }')
    q $(awk 'BEGIN { for (i = 0; i < 5; i++) printf "x%d.dead.zz ", i }')
    # Over the budget of 127.0.0.0/24 minus the exempt 127.0.0.1: drops and
    # TC=1 slips (dig is told not to retry over TCP).
    q -b 127.0.0.77 +ignore +time=1 $(awk 'BEGIN { for (i = 0; i < 12; i++) printf "h%d.bench.zz ", i }')
  }
  # A refused reload (the list loses more than half: shrink guard) and an
  # accepted one (a new entry in another list).
  head -n 5 "$WORK/lists/court.txt" >"$WORK/lists/court.new" && mv "$WORK/lists/court.new" "$WORK/lists/court.txt"
  echo "0.0.0.0 round$off.malware.example" >>"$WORK/lists/malware.hosts"
  kill -HUP "$DW_PID"
  for ((i = 0; i < 100; i++)); do
    curl -s --max-time 2 "http://$DW_HTTP/metrics" | grep -q '^dnsward_list_reload_failures_total' && break
    sleep 0.1
  done
  ((i < 100)) || die "dnsward did not count the refused reload within 10 s"
  log "traffic: $(grep -c 'status:' "$WORK/logs/traffic.out") answers so far, one refused and one accepted list version"
}
