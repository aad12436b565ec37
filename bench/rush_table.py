"""For bench/deadline_rush.py: the result table (metric, measured, target, pass/fail), as text and as JSON."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    metric: str
    measured: float | None
    unit: str
    target: float | None = None  # an upper bound; None: no target, the figure is context
    note: str = ""
    error: str = ""

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.target is None or self.measured is None:
            return "-"
        return "pass" if self.measured <= self.target else "FAIL"


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def row(self, metric: str, measured: float, unit: str, *, target: float | None = None, note: str = "") -> None:
        self._add(Row(metric, measured, unit, target, note))

    def failed(self, metric: str, error: str) -> None:
        self._add(Row(metric, None, "", error=error))

    def _add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"    {self._line(row)}", file=sys.stderr, flush=True)  # as it comes: a long run shows progress

    def detail(self, key: str, value: Any) -> None:
        self.details[key] = value

    def all_passed(self) -> bool:
        return all(r.verdict in ("pass", "-") for r in self.rows)

    def text(self) -> str:
        lines = [f"{'metric':<48}{'measured':>12}  {'target':>10}  {'':4}  note", "-" * 110]
        return "\n".join(lines + [self._line(r) for r in self.rows])

    @staticmethod
    def _line(r: Row) -> str:
        measured = "—" if r.measured is None else f"{r.measured:,.2f} {r.unit}"
        target = "" if r.target is None else f"≤ {r.target:g} {r.unit}"
        note = r.error.splitlines()[0][:200] if r.error else r.note
        return f"{r.metric:<48}{measured:>12}  {target:>10}  {r.verdict:<4}  {note}"

    def as_json(self) -> dict[str, Any]:
        rows = [asdict(r) | {"verdict": r.verdict} for r in self.rows]
        return {"settings": self.settings, "rows": rows, "details": self.details}
