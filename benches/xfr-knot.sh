#!/usr/bin/env bash
# Zone transfer of a 1,000,000-record RPZ from a real Knot primary.
#
# Generates rpz.test. (SOA, NS, 1,000,000 `nameN.example CNAME .`), serves it
# from knotd on loopback (journal on, so it answers IXFR from its journal and
# sends NOTIFY to the node), then starts a release `dnsward run` with that
# zone as a `[lists.transfer]` list and no seed, and measures:
#   AXFR  from the node's start until `dnsward_list_serial` shows the serial;
#   IXFR  1,000 changes (500 names removed, 500 added) committed at knotd in
#         one transaction (knotc zone-begin .. zone-commit); from the commit
#         until the node's serial shows the new one, checked to be an IXFR
#         by `dnsward_list_transfer_total{kind="ixfr",result="success"}`;
#   probe during the IXFR a query for a blocked name every ~2 ms, counting
#         answers that are missing or not NXDOMAIN (goal: 0).
# The serial is read from the metrics endpoint every 20 ms.
#
# Loopback only (the resolver forwards to 127.0.0.1:9, where nothing
# answers); every process started is stopped by PID on exit; each wait is
# bounded. Needs knotd/knotc/kdig (Debian knot, knot-dnsutils), curl,
# python3 with dnspython.
#
# Usage: benches/xfr-knot.sh        (RECORDS=N for another zone size;
#                                    KEEP=1 keeps the temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-1000000}
CHANGES=500 # names removed, and as many added
IP=127.0.0.1
BIN=target/release/dnsward

for t in knotd knotc kdig curl python3; do
  command -v "$t" > /dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import dns.message' 2> /dev/null || { echo "missing python3 dnspython" >&2; exit 1; }
if [ ! -x "$BIN" ] || [ -n "$(find src Cargo.toml Cargo.lock -newer "$BIN" -print -quit)" ]; then
  cargo build --release --quiet
fi

WORK=$(mktemp -d /tmp/xfr-knot.XXXXXX)
KNOT_PID="" NODE_PID="" PROBE_PID=""
stop_pid() { # $1 = pid
  if [ -n "$1" ] && kill -0 "$1" 2> /dev/null; then
    kill "$1" 2> /dev/null || true
    for _ in $(seq 1 50); do kill -0 "$1" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$1" 2> /dev/null || true
    wait "$1" 2> /dev/null || true
  fi
}
cleanup() {
  stop_pid "$PROBE_PID"; stop_pid "$NODE_PID"; stop_pid "$KNOT_PID"
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
free_port() { # a port free on UDP and TCP at once
  python3 - "$IP" << 'EOF'
import socket, sys
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind((sys.argv[1], p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}
KNOT_PORT=$(free_port)
NODE_PORT=$(free_port)
while [ "$NODE_PORT" = "$KNOT_PORT" ]; do NODE_PORT=$(free_port); done
METRICS_PORT=$(free_port)

# --- the zone and knotd -------------------------------------------------
K=$WORK/knot
mkdir -p "$K"
awk -v n="$RECORDS" 'BEGIN {
  print "$ORIGIN rpz.test."
  print "@ 300 IN SOA ns.rpz.test. h.rpz.test. 1000 3600 1 86400 30"
  print "@ 300 IN NS ns.rpz.test."
  for (i = 1; i <= n; i++) print "name" i ".example 300 IN CNAME ."
}' > "$K/rpz.test.zone"
cat > "$K/knot.conf" << EOF
server:
    rundir: "$K"
    listen: $IP@$KNOT_PORT
control:
    listen: "$K/knot.sock"
log:
  - target: stderr
    any: notice
database:
    storage: "$K"
remote:
  - id: node
    address: $IP@$NODE_PORT
acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "$K"
    zonefile-load: difference
    journal-content: changes
    journal-max-usage: 1G
    semantic-checks: off
    zonefile-sync: -1
zone:
  - domain: rpz.test.
    file: "$K/rpz.test.zone"
    acl: xfr
    notify: node
EOF
knotd -c "$K/knot.conf" > /dev/null 2> "$K/knot.log" &
KNOT_PID=$!
soa_serial() { kdig +short +time=1 +retry=0 @"$IP" -p "$KNOT_PORT" rpz.test. SOA 2> /dev/null | awk '{print $3}'; }
KNOT_LOAD0=$(now_ms)
for _ in $(seq 1 1200); do # 120 s
  [ "$(soa_serial)" = 1000 ] && break
  kill -0 "$KNOT_PID" 2> /dev/null || { cat "$K/knot.log" >&2; exit 1; }
  sleep 0.1
done
[ "$(soa_serial)" = 1000 ] || { echo "knotd did not serve the zone" >&2; cat "$K/knot.log" >&2; exit 1; }
KNOT_LOAD_MS=$(($(now_ms) - KNOT_LOAD0))

# --- the node -----------------------------------------------------------
cat > "$WORK/dnsward.toml" << EOF
[server]
listen = ["$IP:$NODE_PORT"]
[resolver]
mode = "forward"
upstreams = ["127.0.0.1:9"]
[metrics]
listen = "$IP:$METRICS_PORT"
[[lists]]
name = "court"
format = "rpz"
path = "$WORK/court.rpz"
[lists.transfer]
primaries = ["$IP:$KNOT_PORT"]
zone = "rpz.test."
refresh_secs = 3600
retry_secs = 1
timeout_secs = 60
EOF
# check-config reads the seed, which does not exist before the first
# transfer: that one complaint is expected, any other stops the run.
if ! "$BIN" check-config "$WORK/dnsward.toml" > "$WORK/check.out" 2>&1 &&
  grep -v "court.rpz: cannot read: No such file" "$WORK/check.out" | grep -q .; then
  cat "$WORK/check.out" >&2; exit 1
fi
METRICS_URL="http://$IP:$METRICS_PORT/metrics"
metric() { # $1 = metric line prefix (name{labels}); prints its value or nothing
  curl -s --max-time 1 "$METRICS_URL" 2> /dev/null | awk -v p="$1" 'index($0, p " ") == 1 {print $2}'
}
SERIAL_M='dnsward_list_serial{list="court"}'
IXFR_M='dnsward_list_transfer_total{kind="ixfr",list="court",result="success"}'
AXFR_M='dnsward_list_transfer_total{kind="axfr",list="court",result="success"}'
wait_serial() { # $1 = serial, $2 = budget in ms; prints the elapsed ms from $3 (ms) or fails
  local want=$1 budget=$2 t0=$3 t
  while :; do
    t=$(now_ms)
    [ "$(metric "$SERIAL_M")" = "$want" ] && { echo $((t - t0)); return 0; }
    [ $((t - t0)) -gt "$budget" ] && return 1
    kill -0 "$NODE_PID" 2> /dev/null || return 1
    sleep 0.02
  done
}

T0=$(now_ms)
"$BIN" run --config "$WORK/dnsward.toml" > "$WORK/node.out" 2> "$WORK/node.err" &
NODE_PID=$!
AXFR_MS=$(wait_serial 1000 60000 "$T0") || { echo "node never reached serial 1000" >&2; tail -20 "$WORK/node.err" >&2; exit 1; }
AXFR_OK=$(metric "$AXFR_M")
NODE_RSS_MIB=$(awk '/^VmRSS/{printf "%.0f", $2/1024}' "/proc/$NODE_PID/status")

# --- the prober ---------------------------------------------------------
# Asks for a name that stays blocked across the change, every ~2 ms, one
# query at a time (each waits up to 1 s); runs until $WORK/stop appears.
cat > "$WORK/probe.py" << 'EOF'
import os, sys, time
import dns.message, dns.query, dns.rcode, dns.exception
server, port, name, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
sent = bad = 0
deadline = time.monotonic() + 120
while not os.path.exists(stop) and time.monotonic() < deadline:
    q = dns.message.make_query(name, "A")
    sent += 1
    try:
        r = dns.query.udp(q, server, port=port, timeout=1.0)
        if r.rcode() != dns.rcode.NXDOMAIN:
            bad += 1
    except (dns.exception.Timeout, OSError, dns.exception.DNSException):
        bad += 1
    time.sleep(0.002)
with open(out, "w") as f:
    f.write(f"{sent} {bad}\n")
EOF
PROBE_NAME="name$RECORDS.example."
python3 "$WORK/probe.py" "$IP" "$NODE_PORT" "$PROBE_NAME" "$WORK/stop" "$WORK/probe.res" &
PROBE_PID=$!

# --- 1,000 changes in one transaction at knotd ---------------------------
kc() { timeout 10 knotc -s "$K/knot.sock" "$@" > /dev/null; }
IXFR_BEFORE=$(metric "$IXFR_M")
kc zone-begin rpz.test.
for i in $(seq 1 "$CHANGES"); do
  kc zone-unset rpz.test. "name$i.example" CNAME
  kc zone-set rpz.test. "name$((RECORDS + i)).example" 300 CNAME .
done
sleep 0.5 # the prober is running steadily by now
T1=$(now_ms)
kc zone-commit rpz.test.
T1B=$(now_ms)
NEW_SERIAL=$(soa_serial)
IXFR_MS=$(wait_serial "$NEW_SERIAL" 30000 "$T1") || { echo "node never reached serial $NEW_SERIAL" >&2; tail -20 "$WORK/node.err" >&2; exit 1; }
IXFR_AFTER=$(metric "$IXFR_M")
COMMIT_MS=$((T1B - T1))
sleep 0.5
touch "$WORK/stop"
for _ in $(seq 1 50); do [ -s "$WORK/probe.res" ] && break; sleep 0.1; done
wait "$PROBE_PID" 2> /dev/null || true
PROBE_PID=""
read -r SENT BAD < "$WORK/probe.res"

# A removed name is no longer blocked, an added one is.
gone=$(kdig +time=3 +retry=0 @"$IP" -p "$NODE_PORT" name1.example. A 2> /dev/null | grep -o 'status: [A-Z]*' | head -1)
added=$(kdig +time=3 +retry=0 @"$IP" -p "$NODE_PORT" "name$((RECORDS + 1)).example." A 2> /dev/null | grep -o 'status: [A-Z]*' | head -1)

printf '%-44s %s\n' "records" "$RECORDS"
printf '%-44s %s\n' "knotd zone load (not dnsward)" "$KNOT_LOAD_MS ms"
printf '%-44s %s\n' "AXFR applied, node start to serial 1000" "$AXFR_MS ms (axfr success=${AXFR_OK:-0}, rss ${NODE_RSS_MIB} MiB)"
printf '%-44s %s\n' "IXFR of $((2 * CHANGES)) changes, commit to serial $NEW_SERIAL" "$IXFR_MS ms (ixfr success ${IXFR_BEFORE:-0} -> ${IXFR_AFTER:-0})"
printf '%-44s %s\n' "  of which knotc zone-commit (knotd)" "$COMMIT_MS ms"
printf '%-44s %s\n' "probe: unanswered or not NXDOMAIN" "$BAD of $SENT"
printf '%-44s %s\n' "after: name1 (removed) / name$((RECORDS + 1)) (added)" "${gone#status: } / ${added#status: }"
