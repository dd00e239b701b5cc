#!/usr/bin/env python3
"""Checks of deploy/kubernetes that schema validation cannot make.

Usage: k8s_checks.py DNSWARD_BINARY

- podmonitor.yaml against schemas/podmonitor.json (jsonschema; the CRD is
  not among kubernetes-validate's bundled schemas);
- every dnsward config in configmap.yaml passes `dnsward check-config`,
  with the lists of the dnsward-lists ConfigMap and a token file in place
  of the mounted volumes;
- each DaemonSet: probes on /healthz and /readyz at the metrics port, the
  config file it passes exists in the ConfigMap, and
  terminationGracePeriodSeconds exceeds shutdown_delay_ms + drain_secs of
  that config.
"""

import json
import pathlib
import subprocess
import sys
import tempfile
import tomllib

import jsonschema
import yaml

K8S = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def docs(name):
    with open(K8S / name, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main():
    binary = sys.argv[1]
    problems = []

    schema = json.loads((K8S / "schemas" / "podmonitor.json").read_text())
    for d in docs("podmonitor.yaml"):
        for e in jsonschema.Draft7Validator(schema).iter_errors(d):
            problems.append(f"podmonitor.yaml: {'/'.join(map(str, e.path))}: {e.message}")

    maps = {d["metadata"]["name"]: d["data"] for d in docs("configmap.yaml")}
    configs, lists = maps["dnsward-config"], maps["dnsward-lists"]
    parsed = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "lists").mkdir()
        for k, v in lists.items():
            (tmp / "lists" / k).write_text(v)
        (tmp / "token").write_text("k8s-check-token-0123456789abcdef")
        for key, text in configs.items():
            parsed[key] = tomllib.loads(text)
            local = text.replace("/var/lib/dnsward/lists/", f"{tmp}/lists/").replace(
                "/run/secrets/dnsward/token", f"{tmp}/token"
            )
            (tmp / key).write_text(local)
            r = subprocess.run([binary, "check-config", str(tmp / key)], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"configmap.yaml {key}: check-config: {r.stdout}{r.stderr}".strip())
            else:
                print(f"ok   configmap.yaml {key}: check-config")

    for name in ("daemonset.yaml", "daemonset-hostnetwork.yaml"):
        for d in docs(name):
            spec = d["spec"]["template"]["spec"]
            c = spec["containers"][0]
            if c["livenessProbe"]["httpGet"]["path"] != "/healthz":
                problems.append(f"{name}: liveness is not /healthz")
            if c["readinessProbe"]["httpGet"]["path"] != "/readyz":
                problems.append(f"{name}: readiness is not /readyz")
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            cfg_path = c["args"][c["args"].index("--config") + 1]
            key = pathlib.PurePosixPath(cfg_path).name
            if key not in parsed:
                problems.append(f"{name}: {cfg_path} is not a key of dnsward-config")
                continue
            cfg = parsed[key]
            metrics_port = int(cfg["metrics"]["listen"].rsplit(":", 1)[1])
            if ports.get("metrics") != metrics_port:
                problems.append(f"{name}: port 'metrics' {ports.get('metrics')} but {key} listens on {metrics_port}")
            dns_ports = {int(a.rsplit(":", 1)[1]) for a in cfg["server"]["listen"]}
            if {ports.get("dns-udp"), ports.get("dns-tcp")} != dns_ports:
                problems.append(f"{name}: DNS container ports {ports} but {key} listens on {dns_ports}")
            srv = cfg["server"]
            needed = srv.get("shutdown_delay_ms", 1000) / 1000 + srv.get("drain_secs", 5)
            grace = spec["terminationGracePeriodSeconds"]
            if grace <= needed:
                problems.append(f"{name}: terminationGracePeriodSeconds {grace} <= shutdown delay + drain {needed}")
            if not problems:
                print(f"ok   {name}: probes, ports and grace period ({grace} s > {needed} s) match {key}")

    for p in problems:
        print(f"FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
