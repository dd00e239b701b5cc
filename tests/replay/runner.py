#!/usr/bin/env python3
"""Run many .rpl scenarios, each in its own network namespace, and compare
the outcome with the checked-in list of scenarios expected to pass.

A scenario on the list that does not pass makes the run fail (exit 1); a
scenario that passes but is not on the list is reported as newly passing
(exit 0), so the list can be extended. Scenarios that need DNSSEC
validation run with the scenario's trust anchors and are marked in the
results (`needs_validation`).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(HERE))
import replay  # noqa: E402

DEFAULT_SUITE = HERE.parents[1] / ".." / "shared" / "data" / "peer-suites" / "deckard-resolver-scenarios" / "sets" / "resolver"
# Groups in the summary: the iterator scenarios the issue counts, the
# NSEC and module ones, and the validator ones.
GROUPS = [
    ("selftest", ("selftest_",)),
    ("iter/black/world/fwd", ("iter_", "black_", "world_", "fwd_")),
    ("nsec/module", ("nsec", "module_")),
    ("val", ("val_",)),
]


# Self-tests named so must fail in the replayer (see selftest/).
MUST_FAIL = "selftest_fail_"


def group_of(name: str) -> str:
    for g, prefixes in GROUPS:
        if name.startswith(prefixes):
            return g
    return "other"


def run_one(path: Path, args) -> dict:
    name = path.stem
    try:
        sc = replay.parse(path)
    except (OSError, replay.ScenarioError, ValueError) as e:
        return {"name": name, "status": "error", "reason": f"parse: {e}", "secs": 0.0}
    why = replay.needs_validation(sc)
    workdir = Path(args.out) / name
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "unshare", "-n", "--", sys.executable, str(HERE / "replay.py"), str(path),
        "--binary", args.binary, "--resolver", args.resolver, "--workdir", str(workdir),
        "--unmatched", args.unmatched,
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        # The whole process group: the replayer and the resolver it started.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"name": name, "status": "fail", "reason": f"timed out after {args.timeout:.0f} s", "secs": args.timeout}
    secs = time.monotonic() - t0
    (workdir / "stdout.txt").write_text(out)
    for line in reversed(out.splitlines()):
        if line.startswith("RESULT "):
            try:
                res = json.loads(line[len("RESULT "):])
            except json.JSONDecodeError:
                break
            res["name"] = name
            res["secs"] = secs
            if name.startswith(MUST_FAIL):
                # A self-test of the comparison itself: it passes when
                # the replayer reports the failure the scenario builds in.
                if res["status"] == "fail":
                    res["status"], res["reason"] = "pass", "failed as it must: " + res["reason"]
                elif res["status"] == "pass":
                    res["status"], res["reason"] = "fail", "passed, but its check is built to fail"
            if why:
                res["needs_validation"] = True
            return res
    tail = " | ".join(out.strip().splitlines()[-2:])
    return {"name": name, "status": "error", "reason": f"no RESULT line (exit {proc.returncode}): {tail}", "secs": secs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patterns", nargs="*", help="scenario name globs (default: every .rpl)")
    ap.add_argument(
        "--suite",
        action="append",
        help="scenario directory (repeatable; default: the replayer's self-tests and the Deckard set)",
    )
    ap.add_argument("--binary", default=str(HERE.parents[1] / "target" / "debug" / "dnsward"))
    ap.add_argument("--resolver", choices=["dnsward", "unbound"], default="dnsward")
    ap.add_argument("--expected", default=str(HERE / "expected-pass.txt"))
    ap.add_argument("--out", default=str(HERE.parents[1] / "target" / "replay"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--unmatched", choices=["servfail", "drop"], default="servfail")
    ap.add_argument("--all", action="store_true", help="accepted for compatibility: validation scenarios always run")
    ap.add_argument("--json", help="write every result to this file")
    args = ap.parse_args()

    suites = [Path(s) for s in (args.suite or [HERE / "selftest", DEFAULT_SUITE.resolve()])]
    paths = [p for suite in suites for p in sorted(suite.glob("*.rpl")) if p.is_file()]
    if args.patterns:
        paths = [p for p in paths if any(fnmatch.fnmatch(p.stem, g) or fnmatch.fnmatch(p.name, g) for g in args.patterns)]
    if not paths:
        print(f"no scenarios under {', '.join(map(str, suites))} match {args.patterns}", file=sys.stderr)
        return 2
    if args.resolver == "dnsward" and not os.access(args.binary, os.X_OK):
        print(f"{args.binary}: not built (cargo build)", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda p: run_one(p, args), paths))
    wall = time.monotonic() - t0

    expected: set[str] = set()
    exp_path = Path(args.expected)
    if args.resolver == "dnsward" and exp_path.is_file():
        for line in exp_path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                expected.add(line)

    width = max(len(r["name"]) for r in results)
    for r in results:
        if r["status"] == "skip" and not args.patterns:
            continue
        reason = r.get("reason", "")
        print(f"{r['name']:<{width}}  {r['status']:<5} {r['secs']:5.1f}s  {reason}")

    print()
    print(f"{'group':<22} {'run':>4} {'pass':>5} {'fail':>5} {'error':>6} {'skip':>5}")
    for g in [g for g, _ in GROUPS] + ["other"]:
        rs = [r for r in results if group_of(r["name"]) == g]
        if not rs:
            continue
        c = {s: sum(1 for r in rs if r["status"] == s) for s in ("pass", "fail", "error", "skip")}
        ran = len(rs) - c["skip"]
        print(f"{g:<22} {ran:>4} {c['pass']:>5} {c['fail']:>5} {c['error']:>6} {c['skip']:>5}")
    print(f"wall time {wall:.0f} s, {args.jobs} jobs; logs under {args.out}/<scenario>/")

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")

    status = {r["name"]: r["status"] for r in results}
    regressions = sorted(n for n in expected if n in status and status[n] != "pass")
    newly = sorted(n for n, s in status.items() if s == "pass" and n not in expected)
    if args.resolver != "dnsward":
        return 0
    for n in newly:
        print(f"NEWLY PASSING: {n} (add it to {exp_path.name})")
    for n in regressions:
        print(f"REGRESSION: {n} is in {exp_path.name} but did not pass")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
