#!/usr/bin/env python3
"""Draw the Grafana dashboard's panels as one HTML page of SVG charts, from
a live Prometheus, for a headless browser to screenshot (no Grafana needed).

Usage: render_panels.py PROMETHEUS_URL DASHBOARD_JSON OUT_HTML [RANGE_SECONDS]

Time series and heatmap panels become line charts of query_range results
(heatmap buckets drawn as one line per bucket); table panels list their
instant query's label sets. Variables as in eval_panels.py.
"""

import html
import json
import sys
import time
import urllib.parse
import urllib.request

VARIABLES = {"$__rate_interval": "10s", "$__interval": "2s", "$__range": "5m", "${instance}": ".*", "$instance": ".*"}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
W, H, PAD = 440, 170, 34


def api(base, path, params):
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.load(r)["data"]["result"]


def expand(expr):
    for k, v in VARIABLES.items():
        expr = expr.replace(k, v)
    return expr


def legend(fmt, metric):
    out = fmt or ""
    for k, v in metric.items():
        out = out.replace("{{" + k + "}}", v)
    return out.strip() or ",".join(f"{k}={v}" for k, v in metric.items() if k != "__name__")


def chart(series, start, end):
    vals = [v for _, pts in series for _, v in pts]
    if not vals:
        return "<p class=empty>no data</p>"
    lo, hi = min(0.0, min(vals)), max(vals)
    hi = hi if hi > lo else lo + 1
    sx = lambda t: PAD + (t - start) / (end - start) * (W - PAD - 6)
    sy = lambda v: H - 16 - (v - lo) / (hi - lo) * (H - 24)
    parts = [f'<svg width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">',
             f'<rect x="{PAD}" y="8" width="{W - PAD - 6}" height="{H - 24}" fill="#fafafa" stroke="#ddd"/>',
             f'<text x="2" y="14" class=ax>{hi:.3g}</text><text x="2" y="{H - 16}" class=ax>{lo:.3g}</text>',
             f'<text x="{PAD}" y="{H - 3}" class=ax>-{int(end - start)}s</text><text x="{W - 30}" y="{H - 3}" class=ax>now</text>']
    for i, (_, pts) in enumerate(series):
        d = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in pts)
        parts.append(f'<polyline fill="none" stroke="{COLORS[i % len(COLORS)]}" stroke-width="1.5" points="{d}"/>')
    parts.append("</svg>")
    keys = "".join(f'<span style="color:{COLORS[i % len(COLORS)]}">&#9632; {html.escape(name)}</span> '
                   for i, (name, _) in enumerate(series[:8]))
    more = f" (+{len(series) - 8} more)" if len(series) > 8 else ""
    return "".join(parts) + f"<div class=keys>{keys}{more}</div>"


def main():
    base, dash_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = int(sys.argv[4]) if len(sys.argv) > 4 else 120
    dash = json.load(open(dash_path, encoding="utf-8"))
    end = time.time()
    start = end - rng
    cells = []
    for p in dash["panels"]:
        if p["type"] == "row":
            cells.append(f'<h2>{html.escape(p["title"])}</h2>')
            continue
        body = ""
        if p["type"] == "table":
            rows = []
            for t in p["targets"]:
                for r in api(base, "/api/v1/query", {"query": expand(t["expr"]), "time": end}):
                    m = {k: v for k, v in r["metric"].items() if k not in ("__name__", "job")}
                    rows.append("<tr>" + "".join(f"<td>{html.escape(k)}={html.escape(v[:16])}</td>" for k, v in sorted(m.items())) + "</tr>")
            body = "<table>" + "".join(rows[:8]) + "</table>" if rows else "<p class=empty>no data</p>"
        else:
            series = []
            for t in p["targets"]:
                res = api(base, "/api/v1/query_range", {"query": expand(t["expr"]), "start": start, "end": end, "step": 2})
                for r in res:
                    pts = [(float(ts), float(v)) for ts, v in r["values"] if v not in ("NaN", "+Inf", "-Inf")]
                    if pts:
                        series.append((legend(t.get("legendFormat"), r["metric"]), pts))
            body = chart(series, start, end)
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        cells.append(f'<div class=panel><h3>{html.escape(p["title"])} <small>{html.escape(unit)}</small></h3>{body}</div>')
    page = f"""<!doctype html><meta charset=utf-8><title>{html.escape(dash['title'])}</title>
<style>body{{font:12px sans-serif;margin:10px;background:#fff;width:1400px}}h1{{font-size:18px;margin:0 0 4px}}
h2{{font-size:14px;margin:10px 0 4px;border-bottom:1px solid #ccc;width:100%}}h3{{font-size:12px;margin:2px 0}}
.panel{{display:inline-block;vertical-align:top;width:{W}px;margin:0 8px 8px 0}}.ax{{font-size:9px;fill:#666}}
.keys{{font-size:10px;max-height:28px;overflow:hidden}}.empty{{color:#999}}table{{font-size:10px;border-collapse:collapse}}
td{{border:1px solid #ddd;padding:1px 4px}}</style>
<h1>{html.escape(dash['title'])}: deploy/grafana/dnsward.json, last {rng} s of a live dnsward (tests/deploy/render-graph.sh)</h1>
{''.join(cells)}"""
    open(out, "w", encoding="utf-8").write(page)


if __name__ == "__main__":
    main()
