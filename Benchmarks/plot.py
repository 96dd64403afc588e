#!/usr/bin/env python3
"""Plot per-service start+stop cost against N from lifecycle-bench's --json output, as an SVG.

    swift run -c release --package-path Benchmarks lifecycle-bench --json Benchmarks/results.json
    python3 Benchmarks/plot.py Benchmarks/results.json Benchmarks/per-service-cost.svg

No third-party packages: the SVG is written by hand (log-log axes, one line per system and shape).
"""
import json
import math
import sys

WIDTH, HEIGHT = 900, 560
LEFT, RIGHT, TOP, BOTTOM = 80, 290, 50, 60
COLOURS = [
    "#1f77b4", "#aec7e8", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94",
    "#e377c2", "#f7b6d2", "#7f7f7f", "#bcbd22",
]


def series_name(row):
    if row["system"] == "lifecycle":
        return f"Lifecycle {row['shape']}, " + ("1 consumer" if row["events"] else "no subscriber")
    if row["system"] == "blocking":
        return f"Blocking {row['shape']}, " + ("1 consumer" if row["events"] else "no subscriber")
    if row["system"] == "servicegroup":
        return "ServiceGroup 2.13.0 (flat)"
    return "floor (bare await)"


def main(source, target):
    rows = [r for r in json.load(open(source)) if r["system"] not in ("latency", "report")]
    series = {}
    for row in rows:
        series.setdefault(series_name(row), []).append((row["n"], row["ns"]))
    xs = [n for points in series.values() for n, _ in points]
    ys = [ns for points in series.values() for _, ns in points]
    x_low, x_high = math.log10(min(xs)), math.log10(max(xs))
    y_low, y_high = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))

    def px(n):
        span = (x_high - x_low) or 1
        return LEFT + (math.log10(n) - x_low) / span * (WIDTH - LEFT - RIGHT)

    def py(ns):
        return TOP + (y_high - math.log10(ns)) / (y_high - y_low) * (HEIGHT - TOP - BOTTOM)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="25" font-size="15">Start + stop cost per service (median, log-log)</text>',
    ]
    for exponent in range(y_low, y_high + 1):
        y = py(10**exponent)
        label = {0: "1 ns", 1: "10 ns", 2: "100 ns", 3: "1 µs", 4: "10 µs", 5: "100 µs", 6: "1 ms"}.get(
            exponent, f"1e{exponent} ns")
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for n in sorted(set(xs)):
        x = px(n)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{n:,}</text>')
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 15}" text-anchor="middle">N (services)</text>')
    for index, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        points.sort()
        dash = ' stroke-dasharray="6 4"' if "no subscriber" in name else ""
        path = " ".join(f"{px(n):.1f},{py(ns):.1f}" for n, ns in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for n, ns in points:
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(ns):.1f}" r="3" fill="{colour}"/>')
        y = TOP + 10 + index * 20
        x = WIDTH - RIGHT + 20
        out.append(f'<line x1="{x}" x2="{x + 24}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 30}" y="{y + 4}">{name}</text>')
    out.append("</svg>")
    open(target, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Benchmarks/results.json",
         sys.argv[2] if len(sys.argv) > 2 else "Benchmarks/per-service-cost.svg")
