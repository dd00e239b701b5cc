#!/usr/bin/env bash
# tests/deploy/container.sh: build the Containerfile's image without pulling
# anything and check what is in it, then run it.
#
#   1. the runtime stage's /out tree from the host's binary
#      (deploy/container/collect-rootfs.sh, target/debug/dnsward unless
#      DNSWARD_BIN is set) as a local image, passed as ARTIFACTS, so the
#      Rust build stage (which would pull docker.io/library/rust) is skipped;
#      buildah bud --pull=never
#   2. image config: user 65532:65532, HEALTHCHECK on /healthz, entrypoint
#   3. image contents (mounted): the binary, only the libraries it links, no
#      shell besides busybox, nothing writable by uid 65532 outside /tmp
#      (read-only root friendly), the default config passes check-config
#   4. a run: podman run --read-only if podman can run containers here;
#      otherwise `buildah run --isolation chroot` (no OCI runtime needed) as
#      uid 65532, on loopback ports, then the image's HEALTHCHECK command and
#      a DNS query
# Exit status 0 when every check passes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=benches/load/lib.sh
source "$REPO/benches/load/lib.sh"
for c in buildah dig curl jq; do command -v "$c" >/dev/null || die "$c not found"; done
BUSYBOX=${BUSYBOX:-/bin/busybox}
[[ -x $BUSYBOX ]] || die "$BUSYBOX not found (Debian package busybox-static)"
IMAGE=localhost/dnsward:check
ARTIFACTS=localhost/dnsward-artifacts:check

WORK=$(mktemp -d /tmp/dnsward-image.XXXXXX)
mkdir -p "$WORK/logs"
CTRS=()
container_cleanup() {
  local rc=$? c
  for c in "${CTRS[@]}"; do
    buildah umount "$c" >/dev/null 2>&1 || true
    buildah rm "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK/out"
  # cleanup exits with the status it finds in $?: hand it the script's own.
  set +e
  (exit "$rc")
  cleanup
}
trap container_cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${DNSWARD_BIN:-} ]]; then
  (cd "$REPO" && cargo build --quiet --bin dnsward)
  DNSWARD_BIN=$REPO/target/debug/dnsward
fi

# 1. Build.
sh "$REPO/deploy/container/collect-rootfs.sh" "$WORK/out" "$DNSWARD_BIN" "$BUSYBOX" "$REPO"
c=$(buildah from scratch)
CTRS+=("$c")
buildah copy "$c" "$WORK/out" /out >/dev/null
buildah commit -q "$c" "$ARTIFACTS" >/dev/null
(cd "$REPO" && buildah bud --pull=never --no-cache --force-rm --format docker --build-arg ARTIFACTS="$ARTIFACTS" \
  -t "$IMAGE" -f Containerfile . >"$WORK/logs/build.log" 2>&1) ||
  die "buildah bud failed: $(tail -n 10 "$WORK/logs/build.log")"
log "built $IMAGE ($(buildah images --format '{{.Size}}' "$IMAGE"))"

# 2. Image config.
buildah inspect --type image "$IMAGE" >"$WORK/inspect.json"
user=$(jq -r '.Docker.config.User' "$WORK/inspect.json")
[[ $user == 65532:65532 ]] || die "image user is '$user', want 65532:65532"
health=$(jq -r '.Docker.config.Healthcheck.Test | join(" ")' "$WORK/inspect.json")
[[ $health == *"/healthz"* ]] || die "HEALTHCHECK does not probe /healthz: $health"
entry=$(jq -r '.Docker.config.Entrypoint | join(" ")' "$WORK/inspect.json")
[[ $entry == /usr/local/bin/dnsward ]] || die "entrypoint is '$entry'"
log "config: user $user; healthcheck: $health; entrypoint: $entry"

# 3. Contents.
c=$(buildah from --pull=never "$IMAGE")
CTRS+=("$c")
mnt=$(buildah mount "$c")
(cd "$mnt" && find . -mindepth 1 | sort) >"$WORK/files.txt"
for f in usr/local/bin/dnsward usr/local/bin/busybox etc/passwd etc/dnsward/dnsward.toml; do
  [[ -f $mnt/$f ]] || die "image lacks /$f"
done
[[ ! -e $mnt/bin/sh && ! -e $mnt/usr/bin ]] || die "image has a shell or /usr/bin"
grep -q '^dnsward:x:65532:65532:' "$mnt/etc/passwd" || die "no dnsward user 65532 in /etc/passwd"
writable=$(cd "$mnt" && find . -mindepth 1 \( -uid 65532 -o -perm -0002 \) ! -path ./tmp | sort)
[[ -z $writable ]] || die "writable by uid 65532 outside /tmp: $writable"
log "contents: $(wc -l <"$WORK/files.txt") paths; nothing writable by 65532 but /tmp:"
sed 's/^/    /' "$WORK/files.txt" >&2
buildah umount "$c" >/dev/null

printf 'check-token-%s' "$RANDOM$RANDOM" >"$WORK/token"
chmod 0644 "$WORK/token"
buildah run --isolation chroot --user 65532:65532 \
  -v "$WORK/token:/run/secrets/dnsward-admin-token:ro" "$c" -- \
  /usr/local/bin/dnsward check-config /etc/dnsward/dnsward.toml >"$WORK/logs/check-config.log" 2>&1 ||
  die "the image's config fails check-config: $(cat "$WORK/logs/check-config.log")"
log "the image's /etc/dnsward/dnsward.toml passes check-config"

# 4. Run. Loopback ports: the chroot fallback shares the host's network.
DNS_PORT=$(free_port)
grep -qE '127\.0\.0\.1:9153|0\.0\.0\.0:9153|\*:9153' <<<"$(ss -Hlnt)" &&
  die "127.0.0.1:9153 is in use: the image's HEALTHCHECK probes that port"
cat >"$WORK/run.toml" <<CONF
[server]
listen = ["127.0.0.1:$DNS_PORT"]
[resolver]
mode = "forward"
upstreams = ["127.0.0.1:9"]
[metrics]
listen = "127.0.0.1:9153"
[[lists]]
name = "court-orders"
path = "/var/lib/dnsward/lists/court-orders.txt"
action = "nxdomain"
CONF
chmod 0644 "$WORK/run.toml"
mode=""
# Podman as is, then with the limits and cgroups a restricted host (nested
# container, hybrid cgroups) may refuse.
PODMAN_OPTS=()
podman_probe() {
  podman run --rm --network=none "${PODMAN_OPTS[@]}" --entrypoint /usr/local/bin/busybox "$IMAGE" true >>"$WORK/logs/podman-probe.log" 2>&1
}
podman_ok=0
if command -v podman >/dev/null; then
  if podman_probe; then
    podman_ok=1
  else
    PODMAN_OPTS=(--cgroups=disabled --ulimit nofile=4096:4096 --ulimit nproc=1024:1024)
    podman_probe && podman_ok=1
  fi
fi
if ((podman_ok)); then
  mode=podman
  podman run -d --name dnsward-check-$$ --read-only --network=host "${PODMAN_OPTS[@]}" \
    -v "$WORK/run.toml:/etc/dnsward/dnsward.toml:ro" "$IMAGE" >"$WORK/logs/podman-id" 2>&1 &&
    PODMAN_CTR=dnsward-check-$$ || die "podman run failed: $(cat "$WORK/logs/podman-id")"
else
  log "podman cannot run containers here: $(grep '^Error' "$WORK/logs/podman-probe.log" | paste -sd ';' - || tail -n 1 "$WORK/logs/podman-probe.log")"
  log "running the image with buildah run --isolation chroot instead"
  mode=chroot
  buildah run --isolation chroot --user 65532:65532 \
    -v "$WORK/run.toml:/etc/dnsward/dnsward.toml:ro" "$c" -- \
    /usr/local/bin/dnsward run --config /etc/dnsward/dnsward.toml >"$WORK/logs/run.out" 2>"$WORK/logs/run.err" &
  register $! "buildah-run"
fi
for ((i = 0; i < 300; i++)); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9153/readyz) == 200 ]] && break
  sleep 0.1
done
((i < 300)) || die "the container's dnsward was not ready in 30 s: $(tail -n 5 "$WORK/logs/run.err" 2>/dev/null)"
# The HEALTHCHECK command exactly as the image declares it.
mapfile -t hc < <(jq -r '.Docker.config.Healthcheck.Test[1:][]' "$WORK/inspect.json")
if [[ $mode == podman ]]; then
  podman exec "$PODMAN_CTR" "${hc[@]}" || die "HEALTHCHECK command failed"
else
  buildah run --isolation chroot --user 65532:65532 "$c" -- "${hc[@]}" || die "HEALTHCHECK command failed"
fi
out=$(dig -p "$DNS_PORT" @127.0.0.1 +tries=1 +time=2 blocked.example A || true)
grep -q 'status: NXDOMAIN' <<<"$out" || die "the container's dnsward did not block blocked.example: $out"
log "container ($mode): HEALTHCHECK ok, blocked answer on 127.0.0.1:$DNS_PORT"
if [[ $mode == podman ]]; then
  podman stop -t 15 "$PODMAN_CTR" >/dev/null && podman rm "$PODMAN_CTR" >/dev/null
else
  # SIGTERM to the dnsward under our buildah run (found by ancestry), then
  # wait for buildah run to return.
  for dpid in $(pgrep -x dnsward || true); do
    a=$dpid
    while [[ $a -gt 1 && $a != "${PIDS[-1]}" ]]; do a=$(awk '{print $4}' "/proc/$a/stat" 2>/dev/null || echo 1); done
    [[ $a == "${PIDS[-1]}" ]] && kill -TERM "$dpid"
  done
  for ((i = 0; i < 150; i++)); do
    running "${PIDS[-1]}" || break
    sleep 0.1
  done
  running "${PIDS[-1]}" && die "the container's dnsward did not stop within 15 s of SIGTERM"
  stop_pid "${PIDS[-1]}"
fi
log "container checks passed"
