#!/usr/bin/env bash
# tests/deploy/systemd.sh: deploy/dnsward.service, checked without a running
# systemd (CI containers have none):
#   1. systemd-analyze verify (ExecStart pointed at target/debug/dnsward)
#   2. systemd-analyze security --offline: exposure at most 2.0 ("OK")
#   3. the unit's privilege model by hand: dnsward started as a uid with no
#      account (as DynamicUser= gives) holding only CAP_NET_BIND_SERVICE
#      (setpriv), binding port 53 itself on 127.0.N.5, no socket passed in;
#      it must answer a blocked name over UDP and TCP and reload on SIGHUP
#      (what ExecReload sends)
#   4. that run under strace: every syscall dnsward made after its execve must
#      be allowed by the unit's SystemCallFilter= lines
# Bounded: about 30 queries, every wait capped. Exit status 0 when all pass.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=benches/load/lib.sh
source "$REPO/benches/load/lib.sh"
UNIT=$REPO/deploy/dnsward.service
for c in systemd-analyze setpriv strace dig curl; do
  command -v "$c" >/dev/null || die "$c not found"
done

WORK=$(mktemp -d /tmp/dnsward-unit.XXXXXX)
mkdir -p "$WORK/logs"
unit_cleanup() {
  local rc=$?
  rm -f "$WORK/dnsward"
  (exit "$rc")
  cleanup
}
trap unit_cleanup EXIT
trap 'exit 130' INT TERM
(cd "$REPO" && cargo build --quiet --bin dnsward)
install -m 0755 "$REPO/target/debug/dnsward" "$WORK/dnsward"
chmod 0755 "$WORK"

sed "s#/usr/local/bin/dnsward#$WORK/dnsward#g" "$UNIT" >"$WORK/dnsward.service"
systemd-analyze verify "$WORK/dnsward.service"
log "systemd-analyze verify: ok"
systemd-analyze security --offline=yes --threshold=20 "$WORK/dnsward.service" >"$WORK/security.txt" 2>&1 || {
  cat "$WORK/security.txt"
  die "systemd-analyze security: exposure above 2.0"
}
grep -E '^✗' "$WORK/security.txt" || true
grep -E 'Overall exposure level' "$WORK/security.txt"
grep -qE '^ExecReload=/bin/kill -HUP \$MAINPID$' "$UNIT" || die "ExecReload does not send SIGHUP to \$MAINPID"

# 3. Started the way the unit starts it.
NET=$(pick_loopback_net)
ADDR=127.0.$NET.5
HTTP_PORT=$(free_port)
printf 'blocked%d.example\n' 1 2 3 4 5 6 7 8 >"$WORK/court.txt"
chmod 0644 "$WORK/court.txt"
cat >"$WORK/dnsward.toml" <<CONF
[server]
listen = ["$ADDR:53"]

[resolver]
mode = "forward"
upstreams = ["127.0.0.1:9"]
timeout_ms = 500

[metrics]
listen = "127.0.0.1:$HTTP_PORT"

[reload]
watch = false

[[lists]]
name = "court"
path = "$WORK/court.txt"
action = "nxdomain"
CONF
chmod 0644 "$WORK/dnsward.toml"
"$WORK/dnsward" check-config "$WORK/dnsward.toml" >/dev/null
strace -f -qq -o "$WORK/strace.out" \
  setpriv --reuid=64999 --regid=64999 --clear-groups \
  --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
  --bounding-set=-all,+net_bind_service --no-new-privs \
  "$WORK/dnsward" run --config "$WORK/dnsward.toml" >"$WORK/logs/dnsward.out" 2>"$WORK/logs/dnsward.err" &
DW_PID=$!
register "$DW_PID" strace
for ((i = 0; i < 300; i++)); do
  alive_or_die "$DW_PID" "$WORK/logs/dnsward.err"
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/readyz") == 200 ]] && break
  sleep 0.1
done
((i < 300)) || die "dnsward not ready in 30 s: $(tail -n 5 "$WORK/logs/dnsward.err")"
# DW_PID is strace; dnsward is the process that runs $WORK/dnsward.
DNSWARD_PID=$(pgrep -f "^$WORK/dnsward run" | head -n 1)
[[ -n $DNSWARD_PID ]] || die "no dnsward process under strace"
# Stopped first on exit: a tracee outlives a killed strace.
register "$DNSWARD_PID" dnsward
status=$(cat "/proc/$DNSWARD_PID/status")
grep -E '^(Uid|CapEff|CapAmb|CapBnd):' <<<"$status"
grep -qE '^Uid:[[:space:]]+64999' <<<"$status" || die "dnsward does not run as uid 64999"
grep -qE '^CapEff:[[:space:]]+0000000000000400$' <<<"$status" || die "dnsward holds more than CAP_NET_BIND_SERVICE"
for proto in +notcp +tcp; do
  out=$(dig -p 53 @"$ADDR" +tries=1 +time=2 "$proto" blocked1.example A || true)
  grep -q 'status: NXDOMAIN' <<<"$out" || die "no blocked answer from $ADDR:53 ($proto): $out"
done
log "dnsward as uid 64999 with CAP_NET_BIND_SERVICE only: answers on $ADDR:53 (UDP, TCP)"
printf 'blocked%d.example\n' 1 2 3 4 5 6 7 8 9 >"$WORK/court.new" && chmod 0644 "$WORK/court.new" && mv "$WORK/court.new" "$WORK/court.txt"
kill -HUP "$DNSWARD_PID"
for ((i = 0; i < 100; i++)); do
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -qE '^dnsward_list_entries\{list="court"\} 9$' && break
  sleep 0.1
done
((i < 100)) || die "SIGHUP did not reload the list within 10 s"
log "SIGHUP reloaded the list"
dig -p 53 @"$ADDR" +tries=1 +time=2 x.example A >/dev/null || true # a forward failure: SERVFAIL
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >/dev/null
# SIGTERM as systemd's KillSignal= does; strace exits with it.
kill -TERM "$DNSWARD_PID"
for ((i = 0; i < 150; i++)); do
  running "$DW_PID" || break
  sleep 0.1
done
running "$DW_PID" && die "dnsward did not exit within 15 s (TimeoutStopSec=15) of SIGTERM"
stop_pid "$DW_PID"

# 4. Syscalls made after dnsward's execve versus the unit's filter.
python3 - "$WORK/strace.out" "$UNIT" <<'PY'
import re, subprocess, sys

trace, unit = sys.argv[1], sys.argv[2]

def expand(item, seen=None):
    seen = set() if seen is None else seen
    if not item.startswith("@"):
        return {item}
    if item in seen:
        return set()
    seen.add(item)
    out = subprocess.run(["systemd-analyze", "syscall-filter", item],
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            names |= expand(line, seen)
    return names

allowed = None
for line in open(unit, encoding="utf-8"):
    m = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
    if not m:
        continue
    items = set()
    for it in m.group(2).split():
        items |= expand(it)
    if m.group(1):
        allowed = (allowed if allowed is not None else set()) - items
    else:
        allowed = items if allowed is None else allowed | items

used, started = set(), False
for line in open(trace, encoding="utf-8", errors="replace"):
    m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if not m:
        continue
    if not started:
        started = re.search(r'execve\("[^"]*/dnsward"', line) is not None
        continue
    used.add(m.group(1))
if not started:
    sys.exit("strace: no execve of dnsward found")
bad = sorted(used - allowed - {"exit", "exit_group", "restart_syscall", "rt_sigreturn"})
print(f"syscalls used by dnsward: {len(used)}; outside SystemCallFilter: {bad or 'none'}")
sys.exit(1 if bad else 0)
PY
log "systemd checks passed"
