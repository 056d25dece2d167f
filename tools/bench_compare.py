"""Compare `make bench` reports of two commits; flag a ratio that fell by more than the noise.

    .venv/bin/python tools/bench_compare.py BASE HEAD [--history .bench/history] [--floor 0.05]

Every `make bench` run adds itself to ``.bench/history/<commit>.json`` (tests/bench/harness.py,
``--history``): ``{"commit", "runs": [{"when", "dirty", "sizes", "only", "rows": [...]}, ...]}``,
the rows as in ``.bench/report.json``. A CI job keeps that folder between runs (an artifact or a
cache), runs the bench on the base and on the head, and calls this with the two commits (any
prefix of the hashes). Exit status 1 when a row got worse beyond the noise, 2 when a commit has no
history.

What is compared: each row's ``ratio`` (its figure over the ceiling measured in the same run,
which on a shared machine moves far less than the figure alone); for a row whose figure is a
cost (``lower_is_better``: CPU per request, latency, seconds) a rising ratio is the worse one.
The noise of a row is the largest relative spread of its ratio between runs of the same commit
(base or head; run the bench twice on one of them to measure it), never below ``--floor``. A row
is flagged when the head's ratio is worse than the base's by more than that noise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def load(history: Path, commit: str) -> dict[str, Any] | None:
    """The history file of ``commit`` (or of the one commit whose hash starts with it)."""
    exact = history / f"{commit}.json"
    if exact.exists():
        found: dict[str, Any] = json.loads(exact.read_text())
        return found
    matches = sorted(history.glob(f"{commit}*.json"))
    if len(matches) == 1:
        found = json.loads(matches[0].read_text())
        return found
    return None


def ratios(run: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    """Row name -> (ratio, lower is better) for the rows of a run that have a ratio."""
    return {
        row["name"]: (float(row["ratio"]), bool(row.get("lower_is_better")))
        for row in run["rows"]
        if isinstance(row.get("ratio"), int | float) and row["ratio"]
    }


def noise(histories: list[dict[str, Any]]) -> dict[str, float]:
    """The largest relative spread of each row's ratio between runs of one commit."""
    spread: dict[str, float] = {}
    for history in histories:
        runs = [ratios(run) for run in history["runs"]]
        for name in {n for r in runs for n in r}:
            values = [r[name][0] for r in runs if name in r]
            if len(values) >= 2:
                mean = sum(values) / len(values)
                spread[name] = max(spread.get(name, 0.0), (max(values) - min(values)) / mean)
    return spread


def median_ratios(history: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    """Each row's median ratio over the commit's runs."""
    runs = [ratios(run) for run in history["runs"]]
    out: dict[str, tuple[float, bool]] = {}
    for name in {n for r in runs for n in r}:
        values = [r[name][0] for r in runs if name in r]
        lower = next(r[name][1] for r in runs if name in r)
        out[name] = (statistics.median(values), lower)
    return out


def compare(base: dict[str, Any], head: dict[str, Any], floor: float) -> tuple[list[dict[str, Any]], bool]:
    spread = noise([base, head])
    before, after = median_ratios(base), median_ratios(head)
    lines, worse_any = [], False
    for name in sorted(set(before) & set(after)):
        (b, lower), (h, _) = before[name], after[name]
        allowed = max(floor, spread.get(name, 0.0))
        change = (h - b) / b
        worse = change > allowed if lower else -change > allowed
        worse_any |= worse
        lines.append(
            {"name": name, "base": b, "head": h, "change": change, "noise": allowed, "lower": lower, "worse": worse}
        )
    return lines, worse_any


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base")
    p.add_argument("head")
    p.add_argument("--history", type=Path, default=ROOT / ".bench/history")
    p.add_argument("--floor", type=float, default=0.05, help="the least relative change counted as real")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = p.parse_args(argv)
    base, head = load(args.history, args.base), load(args.history, args.head)
    for name, found in ((args.base, base), (args.head, head)):
        if found is None:
            print(f"bench_compare: no history for {name} in {args.history}", file=sys.stderr)
            return 2
    assert base is not None and head is not None  # noqa: S101 - narrowed above
    lines, worse = compare(base, head, args.floor)
    if args.json:
        print(json.dumps(lines, indent=1))
    else:
        width = max((len(x["name"]) for x in lines), default=4)
        for x in lines:
            flag = "WORSE" if x["worse"] else ""
            print(
                f"{x['name']:<{width}}  {x['base']:>10.4g} -> {x['head']:<10.4g} {x['change']:+7.1%}"
                f" (noise {x['noise']:.1%}{', lower is better' if x['lower'] else ''}) {flag}"
            )
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
