#!/usr/bin/env python3
"""Renders deploy/grafana/redsupply.json to a PNG from a live Prometheus, the way Grafana lays it
out (24 columns, panels at their gridPos, rows as headings), so a person can look at the dashboard
without a Grafana: each panel's queries over the last minutes, one line per series, named by its
legend format. Used by `scripts/dev dashboard`.

    dashboard_preview.py --prometheus http://127.0.0.1:59090 --dashboard deploy/grafana/redsupply.json \
        --out .data/dashboard.png [--minutes 10]
"""

import argparse
import json
import re
import sys
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

UNIT_SCALE = {"s": ("s", 1.0), "bytes": ("MiB", 1 / 1048576), "reqps": ("/s", 1.0), "ops": ("/s", 1.0)}


def query_range(base, expr, start, end, step):
    q = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{q}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def legend(fmt, labels):
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    a = ap.parse_args()

    with open(a.dashboard) as f:
        dash = json.load(f)
    end = time.time()
    start = end - a.minutes * 60
    step = max(5, int(a.minutes * 60 / 120))
    panels = dash["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    unit_h = 0.42
    fig = plt.figure(figsize=(22, rows * unit_h + 0.8), dpi=80)
    fig.suptitle(f"{dash['title']} — last {a.minutes:g} min ({a.prometheus})", fontsize=16, x=0.01, ha="left")
    top = 1 - 0.8 / (rows * unit_h + 0.8)
    empty = []
    for p in panels:
        g = p["gridPos"]
        x0, w = g["x"] / 24, g["w"] / 24
        y0 = top * (1 - (g["y"] + g["h"]) / rows)
        h = top * g["h"] / rows
        if p["type"] == "row":
            fig.text(x0 + 0.005, y0 + h * 0.2, p["title"], fontsize=14, fontweight="bold")
            continue
        ax = fig.add_axes([x0 + 0.03, y0 + 0.04 * top, w - 0.04, h - 0.09 * top])
        ax.set_title(p["title"], fontsize=11, loc="left")
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "none")
        suffix, scale = UNIT_SCALE.get(unit, ("", 1.0))
        lines = 0
        for t in p.get("targets", []):
            expr = t["expr"].replace("$__rate_interval", "1m").replace("$namespace", ".*")
            try:
                result = query_range(a.prometheus, expr, start, end, step)
            except Exception as e:  # a query Prometheus refuses is worth seeing on the panel
                ax.text(0.02, 0.5, f"query failed: {e}"[:120], transform=ax.transAxes, fontsize=8, color="red")
                continue
            for series in result[:12]:
                pts = [(float(ts), float(v)) for ts, v in series["values"] if v not in ("NaN", "+Inf", "-Inf")]
                if not pts:
                    continue
                xs = [(ts - end) / 60 for ts, _ in pts]
                ys = [v * scale for _, v in pts]
                ax.plot(xs, ys, linewidth=1.2, label=legend(t.get("legendFormat"), series["metric"]))
                lines += 1
        if lines:
            ax.legend(fontsize=7, loc="upper left", ncol=1 if lines < 5 else 2, framealpha=0.6)
        else:
            empty.append(p["title"])
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="grey")
        ax.set_xlim(-a.minutes, 0)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("minutes ago", fontsize=8)
        if suffix:
            ax.set_ylabel(suffix, fontsize=8)
        ax.grid(alpha=0.3)
    fig.savefig(a.out)
    print(f"wrote {a.out}; panels without data: {', '.join(empty) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
