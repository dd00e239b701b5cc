# shellcheck shell=bash
# The signed bench hierarchy of benches/dns-load.sh (scenarios hit-signed and
# cold-signed; sourced after lib.sh): the same three zones as the unsigned
# one, signed with ldns-signzone (NSEC; the root and zz. with RSASHA256 as the
# real root and most TLDs, bench.zz. with SIGNED_ALG), served by three more
# NSD on 127.0.S.{1,2,3}. dnsward ([dnssec] trust_anchors) and Unbound
# (module-config "validator iterator", trust-anchor) validate from the bench
# root's DS, so every cold answer costs each of them the chain of trust once
# and one signature check per answer.

SIGNED_ALG=${SIGNED_ALG:-ECDSAP256SHA256}
SIGNED_ROOT_DS=""   # the bench root's DS, set by build_signed_hierarchy
SIGNED_ROOT_IP=""
DNSSEC_SUPPORTED=0  # dnsward accepts [dnssec] (set by probe_dnssec)
VALIDATE=0          # 1 while the signed phase writes its configs

# probe_dnssec: does this dnsward know [dnssec]? Then the unsigned phases
# turn validation off (the bench root has no DNSSEC, and Unbound runs its
# iterator alone there); without it the signed scenarios cannot run.
probe_dnssec() {
  printf '[dnssec]\nvalidation = false\n' >"$WORK/dnssec-probe.toml"
  if "$DNSWARD" check-config "$WORK/dnssec-probe.toml" >"$WORK/logs/dnssec-probe.log" 2>&1; then
    DNSSEC_SUPPORTED=1
  fi
  if ((NEED_SIGNED && !DNSSEC_SUPPORTED)); then
    die "SCENARIOS asks for *-signed but $DNSWARD does not accept [dnssec]: $(tail -n 2 "$WORK/logs/dnssec-probe.log" | tr '\n' ' ')"
  fi
}

# sign_zone DIR ZONE FILE ALG: a new key (ldns-keygen, flags 257), DIR/FILE
# signed into DIR/FILE.signed, valid from an hour ago for 30 days; sets KEY.
sign_zone() {
  local d=$1 zone=$2 file=$3 alg=$4 bits=() now
  [[ $alg == RSA* ]] && bits=(-b 2048)
  now=$(date +%s)
  KEY=$(cd "$d" && ldns-keygen -a "$alg" ${bits[@]+"${bits[@]}"} -k "$zone") || die "ldns-keygen $zone failed"
  (cd "$d" && ldns-signzone -i $((now - 3600)) -e $((now + 30 * 86400)) -o "$zone" -f "$file.signed" "$file" "$KEY") \
    >"$WORK/logs/sign-${zone%.}.log" 2>&1 || die "ldns-signzone $zone failed: $WORK/logs/sign-${zone%.}.log"
}

ds_of() { # ds_of DIR KEY: the key's DS (SHA-256), one line
  (cd "$1" && ldns-key2ds -n -2 "$2.key") || die "ldns-key2ds $2 failed"
}

# build_signed_hierarchy: zones in $WORK/zones-signed, signed bottom up (each
# parent gets its child's DS), three NSD on a loopback net of their own.
build_signed_hierarchy() {
  local keep=("$ROOT_IP" "$TLD_IP" "$LEAF_IP") net d="$WORK/zones-signed" t0=$SECONDS
  net=$(pick_loopback_net)
  ROOT_IP=127.0.$net.1 TLD_IP=127.0.$net.2 LEAF_IP=127.0.$net.3
  make_zones "$d"
  sign_zone "$d" bench.zz. bench.zz.zone "$SIGNED_ALG"
  ds_of "$d" "$KEY" >>"$d/zz.zone"
  sign_zone "$d" zz. zz.zone RSASHA256
  ds_of "$d" "$KEY" >>"$d/root.zone"
  sign_zone "$d" . root.zone RSASHA256
  SIGNED_ROOT_DS=$(ds_of "$d" "$KEY" | tr -s ' \t' ' ')
  log "signed zones in $((SECONDS - t0)) s; root DS: $SIGNED_ROOT_DS"
  start_nsd root-signed "." "$ROOT_IP" "$d/root.zone.signed"
  start_nsd tld-signed "zz." "$TLD_IP" "$d/zz.zone.signed"
  start_nsd leaf-signed "bench.zz." "$LEAF_IP" "$d/bench.zz.zone.signed"
  check_hierarchy
  SIGNED_ROOT_IP=$ROOT_IP
  ROOT_IP=${keep[0]} TLD_IP=${keep[1]} LEAF_IP=${keep[2]}
  echo "  signed phase: . and zz. RSASHA256, bench.zz. $SIGNED_ALG, NSEC, on 127.0.$net.x; both servers validate from the bench root DS" >>"$WORK/notes.txt"
}

# dnssec_toml: the [dnssec] table of write_dnsward_conf.
dnssec_toml() {
  if ((VALIDATE)); then
    printf '\n[dnssec]\nvalidation = true\ntrust_anchors = ["%s"]\n' "$SIGNED_ROOT_DS"
  elif ((DNSSEC_SUPPORTED)); then
    printf '\n[dnssec]\nvalidation = false\n'
  fi
}

# unbound_modules: Unbound's module-config line (and anchor) for write_unbound_conf.
unbound_modules() {
  if ((VALIDATE)); then
    printf '    module-config: "validator iterator"\n    trust-anchor: "%s"\n' "$SIGNED_ROOT_DS"
    printf '    trust-anchor-signaling: no\n    root-key-sentinel: no\n'
  else
    printf '    module-config: "iterator"\n'
  fi
}

# signed_checks PORT: answers of the signed hierarchy carry AD.
signed_checks() {
  local out
  out=$(dig +dnssec +time=3 +tries=1 -p "$1" @127.0.0.1 h2.bench.zz A 2>&1 || true)
  grep -qE 'flags:[^;]* ad[ ;]' <<<"$out" || die "127.0.0.1:$1 does not validate the signed bench hierarchy (no AD): $(tr '\n' ' ' <<<"$out" | tr -s ' ' | cut -c1-400)"
}
