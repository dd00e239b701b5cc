#!/usr/bin/env python3
"""Evaluate every PromQL query of the Grafana dashboard, and every recording
rule and alert of deploy/prometheus, against a live Prometheus.

Usage: eval_panels.py PROMETHEUS_URL DASHBOARD_JSON [FIRING_ALERT...]

Grafana variables are replaced the way Grafana would for "all nodes" and a
short range ($instance -> .*, $__rate_interval -> 30s). A panel query passes
when Prometheus parses it and returns at least one series; a rule passes when
Prometheus reports it healthy (and, for a recording rule, its series exist).
Each FIRING_ALERT must be pending or firing (the live traffic provoked it).
Exit status 1 lists every query that failed.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

VARIABLES = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$__range": "5m",
    "${instance}": ".*",
    "$instance": ".*",
}


def api(base, path, params=None):
    url = base.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        # Prometheus answers 400 with a JSON error for unparsable queries.
        return json.load(e)


def expand(expr):
    for k, v in VARIABLES.items():
        expr = expr.replace(k, v)
    return expr


def panel_queries(dashboard):
    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    yield p.get("title", "?"), t.get("refId", "?"), t["expr"]

    yield from walk(dashboard.get("panels", []))


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, path, firing = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    failures = []
    count = 0
    for title, ref, expr in panel_queries(dashboard):
        count += 1
        q = expand(expr)
        r = api(base, "/api/v1/query", {"query": q})
        if r.get("status") != "success":
            failures.append(f"panel {title!r} {ref}: {r.get('error')}: {q}")
        elif not r["data"]["result"]:
            failures.append(f"panel {title!r} {ref}: no data: {q}")
        else:
            print(f"ok   panel {title!r} {ref}: {len(r['data']['result'])} series")
    if count == 0:
        failures.append(f"{path}: no panel queries found")

    rules = api(base, "/api/v1/rules")
    nrules = 0
    for group in rules.get("data", {}).get("groups", []):
        for rule in group.get("rules", []):
            nrules += 1
            name = rule.get("name")
            if rule.get("health") != "ok":
                failures.append(f"rule {name}: health {rule.get('health')}: {rule.get('lastError')}")
                continue
            if name in firing:
                firing.discard(name)
                if rule.get("state") not in ("pending", "firing"):
                    failures.append(f"alert {name}: {rule.get('state')}, expected firing")
                    continue
            if rule.get("type") == "recording":
                r = api(base, "/api/v1/query", {"query": name})
                if r.get("status") != "success" or not r["data"]["result"]:
                    failures.append(f"recording rule {name}: no data")
                    continue
            print(f"ok   rule {name} ({rule.get('type')}, {rule.get('state', 'recorded')})")
    for name in sorted(firing):
        failures.append(f"alert {name}: not loaded")
    if nrules == 0:
        failures.append("Prometheus loaded no rules")

    for f in failures:
        print(f"FAIL {f}")
    print(f"{count} panel queries, {nrules} rules, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
