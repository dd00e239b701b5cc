#!/usr/bin/env bash
# tests/deploy/check.sh: check everything under deploy/.
#
# Usage: tests/deploy/check.sh [STEP...]   (default: every step)
#   rules       promtool check rules/config and promtool test rules
#               (deploy/prometheus/tests/alerts_test.yml fires and silences
#               every alert); every alert has summary, description, and a
#               runbook section in docs/operations.md
#   panels      a live dnsward (NSD hierarchy on 127.0.N.x, dnsward and
#               Prometheus on 127.0.0.1) under about 420 queries; every query
#               of deploy/grafana/dnsward.json and every rule of
#               deploy/prometheus must parse and return data
#               (tests/deploy/eval_panels.py through Prometheus' HTTP API);
#               the refused reload fires DnswardListReloadRefused, the
#               KeyTrap-style zone DnswardDnssecBudgetExceeded; secure,
#               insecure and bogus answers and the family group's blocks
#               are counted
#   systemd     tests/deploy/systemd.sh: systemd-analyze verify and
#               security (exposure at most 2.0, "OK") of deploy/dnsward.service,
#               a start as an unprivileged uid with only CAP_NET_BIND_SERVICE
#               on port 53, SIGHUP reload, and its syscalls against the
#               unit's SystemCallFilter=
#   kubernetes  kubernetes-validate --strict on deploy/kubernetes/*.yaml,
#               the PodMonitor against its schema, the ConfigMap's configs
#               through dnsward check-config, probes/ports/grace period
#               against those configs (tests/deploy/k8s_checks.py)
#   container   the Containerfile's image (localhost/dnsward:check, built with
#               CONTAINER_BUILD=1 or by .ci/run): non-root user, the
#               binary, the config, HEALTHCHECK; then a run of it
#               (tests/deploy/container.sh)
# Needs: promtool/prometheus (Debian prometheus), nsd, dig, curl, python3,
# ldns-keygen and ldns-signzone (ldnsutils),
# systemd-analyze, kubernetes-validate (pip). A missing tool fails its step.
# Exit status: 0 when every step passes, 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"

failed=()
step() { printf '\n== %s\n' "$1"; }

rules() {
  step "prometheus rules"
  promtool check rules deploy/prometheus/rules.yml deploy/prometheus/alerts.yml
  promtool check config deploy/prometheus/prometheus.yml
  promtool test rules deploy/prometheus/tests/alerts_test.yml
  # Every alert: summary, description, a runbook_url to its own section of
  # docs/operations.md, and a unit test.
  python3 - <<'PY'
import re, sys, yaml
alerts = [r for g in yaml.safe_load(open("deploy/prometheus/alerts.yml"))["groups"] for r in g["rules"] if "alert" in r]
doc = open("docs/operations.md", encoding="utf-8").read()
tests = open("deploy/prometheus/tests/alerts_test.yml", encoding="utf-8").read()
bad = []
for r in alerts:
    name, ann = r["alert"], r.get("annotations", {})
    for k in ("summary", "description"):
        if not ann.get(k):
            bad.append(f"{name}: no {k}")
    if ann.get("runbook_url") != f"docs/operations.md#{name.lower()}":
        bad.append(f"{name}: runbook_url {ann.get('runbook_url')!r}")
    if not re.search(rf"^### {name}$", doc, re.M):
        bad.append(f"{name}: no '### {name}' section in docs/operations.md")
    if f"alertname: {name}\n" not in tests:
        bad.append(f"{name}: no unit test")
for b in bad:
    print("FAIL", b)
print(f"{len(alerts)} alerts: summary, description, runbook section, unit test: {'ok' if not bad else 'FAILED'}")
sys.exit(1 if bad else 0)
PY
}

panels() {
  step "dashboard and rules against a live dnsward"
  (
    # shellcheck source=tests/deploy/lib.sh
    source "$HERE/lib.sh"
    WORK=$(mktemp -d /tmp/dnsward-deploy.XXXXXX)
    trap deploy_cleanup EXIT
    trap 'exit 130' INT TERM
    live_stack
    live_traffic
    # Two scrapes after the traffic, and the rules evaluated on them.
    sleep 4
    # The refused reload and the KeyTrap-style zone must show as alerts on
    # the real metrics.
    python3 "$HERE/eval_panels.py" "http://127.0.0.1:$PROM_PORT" deploy/grafana/dnsward.json \
      DnswardListReloadRefused DnswardDnssecBudgetExceeded || exit 1
    # Every DNSSEC result the stack provokes, and the group's own blocks,
    # came from the traffic (not only from series born at zero).
    local want
    for want in 'dnsward_dnssec_results_total{result="secure"}' 'dnsward_dnssec_results_total{result="insecure"}' \
      'dnsward_dnssec_results_total{result="bogus"}' 'dnsward_dnssec_bogus_total{ede="6"}' \
      'dnsward_blocked_total{group="family",list="adult"}' 'dnsward_blocked_total{group="default"}'; do
      curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=sum($want) > 0" |
        grep -q '"result":\[{' || { echo "FAIL no traffic counted in $want" >&2; exit 1; }
    done
    echo "ok   DNSSEC secure, insecure, bogus (EDE 6) and group family/default blocks counted"
  )
}

systemd() {
  step "systemd unit"
  "$HERE/systemd.sh"
}

kubernetes() {
  step "kubernetes manifests"
  command -v kubernetes-validate >/dev/null || {
    echo "kubernetes-validate not found (pip install kubernetes-validate)" >&2
    return 1
  }
  # Strict: unknown fields are errors. PodMonitor is a CRD, not among the
  # bundled schemas: k8s_checks.py validates it, and checks the configs in
  # the ConfigMap with dnsward check-config.
  kubernetes-validate --strict --kubernetes-version "${K8S_VERSION:-1.31.0}" \
    deploy/kubernetes/namespace.yaml deploy/kubernetes/configmap.yaml \
    deploy/kubernetes/daemonset.yaml deploy/kubernetes/daemonset-hostnetwork.yaml \
    deploy/kubernetes/networkpolicy.yaml
  (cd "$REPO" && cargo build --quiet --bin dnsward)
  python3 "$HERE/k8s_checks.py" "$REPO/target/debug/dnsward"
}

container() {
  step "container image"
  "$HERE/container.sh"
}

steps=("$@")
((${#steps[@]} > 0)) || steps=(rules panels systemd kubernetes container)
for s in "${steps[@]}"; do
  case $s in
  rules | panels | systemd | kubernetes | container) "$s" || failed+=("$s") ;;
  *)
    echo "unknown step: $s" >&2
    exit 2
    ;;
  esac
done
if ((${#failed[@]})); then
  printf '\nFAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall deploy checks passed: %s\n' "${steps[*]}"
