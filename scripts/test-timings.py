"""Prints where `npm test` spent its time: each suite's wall time, then the 10 slowest tests.

    python scripts/test-timings.py SUITES_TSV REPORT_DIR

SUITES_TSV has one line per suite: name, seconds, exit status (written by scripts/test.sh).
REPORT_DIR holds the suites' JUnit XML reports (pytest --junitxml, vitest's junit reporter).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def slowest_tests(report_dir: Path, count: int = 10) -> list[tuple[float, str, str]]:
    cases = []
    for report in sorted(report_dir.glob("*.xml")):
        try:
            root = ET.parse(report).getroot()
        except ET.ParseError as exc:  # a suite killed mid-write: say so, keep the rest
            print(f"(could not read {report.name}: {exc})")
            continue
        for case in root.iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
            cases.append((float(case.get("time") or 0), report.stem, name))
    return sorted(cases, reverse=True)[:count]


def main() -> None:
    suites_file, report_dir = Path(sys.argv[1]), Path(sys.argv[2])
    suites = [line.split("\t") for line in suites_file.read_text().splitlines() if line.strip()]
    total = sum(float(seconds) for _, seconds, _ in suites)
    print("\nnpm test timings")
    width = max([34] + [len(name) + 1 for name, _seconds, _status in suites])
    print(f"{'suite':<{width}}{'wall':>10}  result")
    for name, seconds, status in suites:
        print(f"{name:<{width}}{minutes(float(seconds)):>10}  {'ok' if status == '0' else f'failed ({status})'}")
    print(f"{'all suites, one after another':<{width}}{minutes(total):>10}")
    print("\n10 slowest tests")
    for seconds, suite, name in slowest_tests(report_dir):
        print(f"{minutes(seconds):>8}  {suite:<16} {name[:110]}")


if __name__ == "__main__":
    main()
