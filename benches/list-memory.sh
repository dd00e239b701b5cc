#!/usr/bin/env bash
# Memory and reload cost of large lists in the running server.
#
# Starts `dnsward run` (release build) on loopback with 0, 1M and 10M list
# entries and reports, for each: resident memory (VmRSS) once ready, the
# growth over the empty server divided by the entries (bytes per entry,
# names included), and the load time the server logged. Then, with the 1M
# list, it swaps the file (`mv` of a modified copy) and reports the reload
# time (parse + compile + swap, from the server's log) and the peak RSS
# during it (VmHWM), which shows that a reload holds old + new and nothing
# more.
#
# Inputs: ../shared/data/blocklists/aggregate-1m (1,038,838 real names); the
# 10M list is those names plus 9M generated variants ("gN-" + a real name).
# Loopback only; every process started is stopped by PID.
#
# Usage: benches/list-memory.sh            (ENTRIES_10M=0 skips the 10M run)
set -euo pipefail
cd "$(dirname "$0")/.."
AGG=../shared/data/blocklists/aggregate-1m/aggregate.domains.txt.gz
ENTRIES_10M=${ENTRIES_10M:-1}
[ -f "$AGG" ] || { echo "missing $AGG" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/dnsward
WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null || true; fi
  [ -n "${KEEP:-}" ] && cp "$WORK/err" /tmp/list-memory.err; rm -rf "$WORK"
}
trap cleanup EXIT

gunzip -c "$AGG" > "$WORK/1m.txt"
if [ "$ENTRIES_10M" = 1 ]; then
  awk 'BEGIN{n=0} {print; a[n++]=$0} END{for(g=1;g<=9;g++) for(i=0;i<n && g*n+i<10000000;i++) print "g" g "-" a[i]}' \
    "$WORK/1m.txt" | head -n 10000000 > "$WORK/10m.txt"
fi

start() { # $1 = list file or "" ; prints nothing, sets PID and ADMIN
  local list=$1 cfg=$WORK/c.toml
  {
    echo '[server]'; echo 'listen = ["127.0.0.1:0"]'
    echo '[resolver]'; echo 'mode = "forward"'; echo 'upstreams = ["127.0.0.1:9"]'
    echo '[metrics]'; echo 'listen = "127.0.0.1:0"'
    if [ -n "$list" ]; then
      echo '[[lists]]'; echo 'name = "big"'; echo "path = \"$list\""; echo 'format = "domains"'
    fi
  } > "$cfg"
  DNSWARD_LOG=info "$BIN" run --config "$cfg" > "$WORK/out" 2> "$WORK/err" &
  PID=$!
  for _ in $(seq 1 600); do
    grep -q '^listening http' "$WORK/out" 2>/dev/null && break
    sleep 0.1
  done
  ADMIN=$(sed -n 's/^listening http //p' "$WORK/out")
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$PID/status"; }
thp_kib() { awk '/^AnonHugePages/{print $2}' "/proc/$PID/smaps_rollup" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM/{print $2}' "/proc/$PID/status"; }
load_ms() { grep -o 'list loaded.*' "$WORK/err" | tail -1 | grep -o ' ms=[0-9]*' | cut -d= -f2; }

mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
printf '%-10s %12s %12s %12s %10s %10s\n' entries rss_mib growth_mib bytes/entry load_ms thp_mib
start ""; sleep 0.5; BASE=$(rss_kib); stop
printf '%-10s %12s %12s %12s %10s\n' 0 "$(mib "$BASE")" - - -
for f in 1m ${ENTRIES_10M:+10m}; do
  [ "$f" = 10m ] && [ "$ENTRIES_10M" != 1 ] && continue
  n=$(wc -l < "$WORK/$f.txt")
  start "$WORK/$f.txt"; sleep 0.5
  R=$(rss_kib)
  printf '%-10s %12s %12s %12s %10s %10s\n' "$n" "$(mib "$R")" "$(mib $((R - BASE)))" \
    "$(awk -v g=$((R - BASE)) -v n="$n" 'BEGIN{printf "%.1f", g*1024/n}')" "$(load_ms)" "$(mib "$(thp_kib)")"
  if [ "$f" = 1m ]; then
    # Reload: replace the file with a copy that has one more name.
    BEFORE_HWM=$(hwm_kib)
    cp "$WORK/1m.txt" "$WORK/1m.new"; echo "reload-marker.example" >> "$WORK/1m.new"
    mv "$WORK/1m.new" "$WORK/1m.txt"
    for _ in $(seq 1 100); do
      [ "$(grep -c 'list loaded' "$WORK/err")" -ge 2 ] && break
      sleep 0.1
    done
    echo "reload of 1M (parse+compile+swap, server log): $(load_ms) ms;" \
      "peak RSS $(mib "$(hwm_kib)") MiB (steady $(mib "$R") MiB, peak before reload $(mib "$BEFORE_HWM") MiB)"
  fi
  stop
done
