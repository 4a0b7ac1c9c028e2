"""How a benchmark hands its figures to `make bench` (tests.bench.run_all): one `row(...)` per figure.

A row is printed as one line, `BENCH-ROW <json>`, among the benchmark's own output; run_all reads
those lines and writes every benchmark's rows into one README table.
"""

from __future__ import annotations

import json

PREFIX = "BENCH-ROW "


def row(figure: str, value: str, goal: str = "—", met: bool | None = None) -> None:
    """One line of the README's table: what was measured, its value, the goal, whether it is met."""
    print(PREFIX + json.dumps({"figure": figure, "value": value, "goal": goal, "met": met}), flush=True)


def parse(line: str) -> dict | None:
    return json.loads(line[len(PREFIX) :]) if line.startswith(PREFIX) else None
