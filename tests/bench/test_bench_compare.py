"""tools/bench_compare.py: a ratio that got worse by more than the noise between runs of one
commit is flagged, in the direction the row counts (pure: histories written here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from bench_compare import main


def run(**ratios: float) -> dict[str, object]:
    return {
        "when": "2026-12-05T00:00:00Z",
        "rows": [
            {
                "name": name,
                "value": 1.0,
                "unit": "x",
                "ratio": ratio,
                **({"lower_is_better": True} if "cpu" in name else {}),
            }
            for name, ratio in ratios.items()
        ],
    }


def write(history: Path, commit: str, *runs: dict[str, object]) -> None:
    history.mkdir(exist_ok=True)
    (history / f"{commit}.json").write_text(json.dumps({"commit": commit, "runs": list(runs)}))


def test_a_fall_beyond_the_noise_is_flagged(tmp_path: Path, capsys) -> None:
    h = tmp_path / "history"
    # Two runs of the base: the read's ratio moved 10% between them (its noise), the CPU row 2%.
    write(h, "aaaa1111", run(read=0.50, cpu=2.0), run(read=0.55, cpu=2.04))
    write(h, "bbbb2222", run(read=0.50, cpu=2.1))  # within the read's noise; CPU within the 5% floor
    assert main(["aaaa", "bbbb", "--history", str(h)]) == 0
    write(h, "cccc3333", run(read=0.40, cpu=2.0))  # read fell 20%: worse than its 10% noise
    assert main(["aaaa1111", "cccc3333", "--history", str(h)]) == 1
    assert "WORSE" in capsys.readouterr().out.split("read")[-1]
    write(h, "dddd4444", run(read=0.55, cpu=2.5))  # a cost that rose 25%
    assert main(["aaaa1111", "dddd4444", "--history", str(h)]) == 1
    write(h, "eeee5555", run(read=0.60, cpu=1.5))  # better on both: nothing flagged
    assert main(["aaaa1111", "eeee5555", "--history", str(h)]) == 0
    assert main(["aaaa1111", "ffff", "--history", str(h)]) == 2  # no history for that commit
