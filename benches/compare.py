"""The ratio table of two benchmark JSON files (`shadergrad bench --json`, or
benches/pytorch_baseline.py): for each case in both, A's and B's median times and how many
times longer A took. Only ratios from one run on one machine mean much.

    python benches/compare.py shadergrad.json pytorch.json
"""
import json
import sys


def load(path):
    with open(path) as f:
        report = json.load(f)
    return report, {c["case"]: c for c in report["cases"]}


def figure(c):
    if c.get("gflops"):
        return f"{c['gflops']:.1f} GFLOP/s"
    if c.get("gbps"):
        return f"{c['gbps']:.2f} GB/s"
    return ""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (a, cases_a), (b, cases_b) = load(sys.argv[1]), load(sys.argv[2])
    name = lambda r: f"{r.get('engine', '?')} ({r.get('adapter', '?')}, {r.get('backend', '?')})"
    print(f"A = {name(a)}\nB = {name(b)}\n")
    print("| case | A ms | B ms | A / B | A | B |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for case, x in cases_a.items():
        y = cases_b.get(case)
        if y is None:
            continue
        ratio = x["median_ms"] / y["median_ms"] if y["median_ms"] > 0 else float("inf")
        print(f"| {case} | {x['median_ms']:.3f} | {y['median_ms']:.3f} | {ratio:.2f}× | {figure(x)} | {figure(y)} |")
    missing = [c for c in cases_a if c not in cases_b] + [c for c in cases_b if c not in cases_a]
    if missing:
        print(f"\nIn one file only: {', '.join(missing)}")


if __name__ == "__main__":
    main()
