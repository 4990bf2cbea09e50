"""A small walk-forward sweep spec on the sample market, shared by the CLI and dashboard tests.

It varies what needs no symphony parameter (a strategy's share, the rebalance schedule), so it runs on any
branch; 6 configurations × (whole period + 4 in-sample folds) + 4 out-of-sample backtests.
"""

from __future__ import annotations

from pathlib import Path

SPEC = """\
[sweep]
name = "wf-shares"
start = 2019-01-02
end = 2025-06-30

[[strategies]]
source = "tecl"

[[strategies]]
source = "nuclear"

[[vary]]
share = "tecl"
values = [1, 2, 3]

[[vary]]
setting = "rebalance"
values = ["daily", "weekly"]

[walk_forward]
mode = "rolling"
in_sample = "2y"
out_of_sample = "1y"

[report]
heatmap = ["share.tecl", "rebalance"]
"""


def write_spec(folder: Path, text: str = SPEC) -> Path:
    path = folder / "wf.toml"
    path.write_text(text, encoding="utf-8")
    return path
