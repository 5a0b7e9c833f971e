"""Screenshots of a study's report for docs/img (headless Chromium), as the README shows them.

    PYTHONPATH=$PWD python tests/report/report_screenshots.py NAME --storage URL [--out docs/img]

Writes the report page, then one PNG per part: the summary with the front table, the first
Pareto scatter, the network and chip parallel-coordinate panels, the importances and one
energy breakdown (the confirmed design's, else the first front member's).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_chromium import section_screenshot

from codesign.report import load_study, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        data = write_report(load_study(args.name, args.storage), page)
        pairs = len(data.pareto.pairs) + (data.pareto.triple is not None)
        parts = {
            "report-summary": (["#summary"], 560),
            "report-pareto": (["fig-0"], 600),
            "report-network": ([f"fig-{pairs + 1}"], 580),
            "report-chip": ([f"fig-{pairs + 2}"], 580),
            "report-importance": ([f"fig-{pairs + 1 + len(data.parallel)}"], 1000),
        }
        if data.breakdowns:  # the confirmed design's breakdown (else the first front member's)
            shown = next((k for k, b in enumerate(data.breakdowns) if b.seeds), 0)
            parts["report-breakdown"] = ([f"fig-{pairs + 2 + len(data.parallel) + shown}"], 620)
        for name, (keep, height) in parts.items():
            section_screenshot(page, out / f"{name}.png", keep, Path(tmp), height=height)
            print(out / f"{name}.png")


if __name__ == "__main__":
    main()
