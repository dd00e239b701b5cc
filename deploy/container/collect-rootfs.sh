#!/bin/sh
# deploy/container/collect-rootfs.sh OUT BINARY BUSYBOX REPO
# Lay out the runtime image's whole filesystem under OUT: the dnsward binary
# with exactly the shared libraries it links (so the image needs no
# distribution base), a static busybox for HEALTHCHECK's wget, the account
# files of the unprivileged user 65532, the container config and the sample
# lists. Used by the Containerfile's build stage and by
# tests/deploy/container.sh (which builds the image from the host's binary).
set -eu
out=$1 bin=$2 busybox=$3 repo=$4
mkdir -p "$out/usr/local/bin" "$out/etc/dnsward" "$out/var/lib/dnsward/lists" "$out/tmp"
cp "$bin" "$out/usr/local/bin/dnsward"
# The loader and every library ldd resolves ("name => /path (addr)" lines,
# and the loader's own "/lib64/ld-linux-x86-64.so.2 (addr)" line).
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
  while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done
if ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is dynamically linked; want busybox-static" >&2
  exit 1
fi
cp "$busybox" "$out/usr/local/bin/busybox"
printf 'root:x:0:0:root:/:/sbin/nologin\ndnsward:x:65532:65532:dnsward:/var/lib/dnsward:/sbin/nologin\n' >"$out/etc/passwd"
printf 'root:x:0:\ndnsward:x:65532:\n' >"$out/etc/group"
cp "$repo/deploy/container/dnsward.toml" "$out/etc/dnsward/dnsward.toml"
cp "$repo/blocklists/court-orders.txt" "$repo/blocklists/allow.txt" "$out/var/lib/dnsward/lists/"
chmod 1777 "$out/tmp"
chmod -R a+rX,go-w "$out/usr" "$out/etc" "$out/var"
