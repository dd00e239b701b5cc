#!/usr/bin/env bash
# blockpage-load.sh: 451 responses per second from the block page, with
# keep-alive, dnsward pinned to one core; loopback only.
#
# Usage (from anywhere; installs wrk if missing):
#   benches/blockpage-load.sh
#
# It starts target/release/dnsward (built if missing) with a block page on
# 127.0.0.1:$PORT and one list blocking blocked.example, pinned with taskset
# to SERVER_CPU, and runs wrk (keep-alive, Host: blocked.example) pinned to
# LOAD_CPU, RUNS times. Each run prints wrk's summary; the script checks
# that every response was a 451 (wrk's non-2xx count equals its request
# count, and dnsward_blockpage_requests_total{status="451"} grew by the
# same), then prints the server's CPU seconds, the best and median
# responses per second, and responses per server CPU-second (utime+stime
# from /proc/PID/stat), which the rest of the machine's load moves less.
#
# Environment (defaults in brackets):
#   DURATION [10]   seconds per wrk run
#   RUNS [3]        wrk runs
#   CONNECTIONS [64] wrk -c (keep-alive connections)
#   THREADS [1]     wrk -t
#   PORT [18452]  METRICS_PORT [19452]
#   SERVER_CPU [0] LOAD_CPU [1]
#   DNSWARD [<repo>/target/release/dnsward]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
duration="${DURATION:-10}"
runs="${RUNS:-3}"
conns="${CONNECTIONS:-64}"
threads="${THREADS:-1}"
port="${PORT:-18452}"
mport="${METRICS_PORT:-19452}"
server_cpu="${SERVER_CPU:-0}"
load_cpu="${LOAD_CPU:-1}"
dnsward="${DNSWARD:-$repo/target/release/dnsward}"

command -v wrk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
[ -x "$dnsward" ] || (cd "$repo" && cargo build --release --bin dnsward)

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

printf 'blocked.example\n' > "$work/court.txt"
cat > "$work/dnsward.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
[metrics]
listen = "127.0.0.1:$mport"
[resolver]
mode = "forward"
upstreams = ["127.0.0.1:9"]
[reload]
watch = false
[blockpage]
listen = ["127.0.0.1:$port"]
authority_url = "https://authority.example/orders"
appeal = "Apply to the court that made the order to vary or discharge it."
max_connections = 1000
[[lists]]
name = "court"
path = "court.txt"
description = "Unlicensed online gambling sites"
order_id = "17/2024/QD-TA"
TOML

taskset -c "$server_cpu" "$dnsward" run --config "$work/dnsward.toml" > "$work/dnsward.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null -H 'Host: blocked.example' "http://127.0.0.1:$port/" && break
  sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: blocked.example' "http://127.0.0.1:$port/")
[ "$status" = 451 ] || { cat "$work/dnsward.log"; echo "expected 451, got $status" >&2; exit 1; }

served() {
  curl -s "http://127.0.0.1:$mport/metrics" |
    awk '/^dnsward_blockpage_requests_total\{status="451"\}/ {print $2}'
}
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick=$(getconf CLK_TCK)

cmd=(taskset -c "$load_cpu" wrk -t"$threads" -c"$conns" -d"${duration}s" --latency
  -H 'Host: blocked.example' -H 'Accept-Language: vi,en;q=0.8' "http://127.0.0.1:$port/")
echo "server: taskset -c $server_cpu $dnsward run --config <blockpage on 127.0.0.1:$port>"
echo "load:   ${cmd[*]}"
rates=()
percpus=()
for i in $(seq "$runs"); do
  before=$(served); c0=$(cpu)
  out=$("${cmd[@]}")
  after=$(served); c1=$(cpu)
  echo "$out"
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  non2xx=$(echo "$out" | awk '/Non-2xx or 3xx responses/ {print $NF}')
  rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
  counted=$(awk -v a="$after" -v b="$before" 'BEGIN {printf "%d", a - b}')
  [ "$non2xx" = "$reqs" ] || { echo "run $i: $reqs requests but $non2xx non-2xx" >&2; exit 1; }
  # wrk stops counting at its deadline: a few in-flight answers may land after.
  [ "$counted" -ge "$reqs" ] || { echo "run $i: wrk saw $reqs, dnsward counted $counted 451s" >&2; exit 1; }
  cpus=$(awk -v a="$c1" -v b="$c0" -v t="$tick" 'BEGIN {printf "%.2f", (a - b) / t}')
  percpu=$(awk -v n="$counted" -v c="$cpus" 'BEGIN {printf "%.0f", (c > 0) ? n / c : 0}')
  echo "run $i: $rps 451/s, $reqs requests, all 451 ($counted counted by dnsward), server CPU ${cpus}s in ${duration}s = $percpu 451 per CPU-second"
  rates+=("$rps")
  percpus+=("$percpu")
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{r[NR] = $1} END {printf "451/s: best %.0f, median %.0f over %d runs\n", r[NR], r[int((NR + 1) / 2)], NR}'
printf '%s\n' "${percpus[@]}" | sort -n | awk '{r[NR] = $1} END {printf "451 per server CPU-second: best %.0f, median %.0f\n", r[NR], r[int((NR + 1) / 2)]}'
