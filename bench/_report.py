"""Rows of the benchmark table: a figure, the baseline it is compared with, and the ratio.

Every figure is a list of samples (one per repeat); the table shows the median with min and max.
Ratios are taken pair by pair (repeat i of the figure over repeat i of its baseline, measured
back to back), so slow drift on a shared machine cancels out, then summarised the same way.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Row", "Stats", "Target", "compare", "human", "info", "skipped", "table"]


@dataclass(frozen=True, slots=True)
class Stats:
    median: float
    low: float
    high: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), tuple(samples))

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "samples": self.samples}


@dataclass(frozen=True, slots=True)
class Target:
    """What the issue requires: ``ratio >= 0.7`` or ``value >= 1e6``."""

    on: Literal["ratio", "value"]
    op: Literal[">=", "<="]
    threshold: float

    def met(self, value: Stats | None, ratio: Stats | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        m = subject.median
        return m >= self.threshold if self.op == ">=" else m <= self.threshold

    def __str__(self) -> str:
        return f"{self.on} {self.op} {human(self.threshold)}"


@dataclass
class Row:
    area: str
    figure: str
    unit: str
    value: Stats | None
    baseline: str = ""
    base: Stats | None = None
    ratio: Stats | None = None
    target: Target | None = None
    note: str = ""
    skip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.skip is not None:
            return "skipped"
        if self.target is None:
            return "info"
        met = self.target.met(self.value, self.ratio)
        return "n/a" if met is None else ("pass" if met else "FAIL")

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "figure": self.figure,
            "unit": self.unit,
            "value": self.value.as_dict() if self.value else None,
            "baseline": self.baseline,
            "baseline_value": self.base.as_dict() if self.base else None,
            "ratio": self.ratio.as_dict() if self.ratio else None,
            "target": str(self.target) if self.target else None,
            "verdict": self.verdict,
            "note": self.note,
            "skipped": self.skip,
            **({"extra": self.extra} if self.extra else {}),
        }


def compare(
    area: str,
    figure: str,
    unit: str,
    values: Sequence[float],
    baseline: str,
    base: Sequence[float],
    target: Target | None = None,
    note: str = "",
) -> Row:
    """A row whose ratio is ``values[i] / base[i]`` pair by pair (medians if counts differ)."""
    v, b = Stats.of(values), Stats.of(base)
    if len(values) == len(base):
        ratio = Stats.of([x / y for x, y in zip(values, base, strict=True) if y])
    else:
        ratio = Stats.of([v.median / b.median])
    return Row(area, figure, unit, v, baseline, b, ratio, target, note)


def info(area: str, figure: str, unit: str, values: Sequence[float], note: str = "") -> Row:
    return Row(area, figure, unit, Stats.of(values), note=note)


def skipped(area: str, figure: str, reason: str) -> Row:
    return Row(area, figure, "", None, skip=reason)


def human(x: float) -> str:
    """Three significant digits, with an SI suffix from a thousand up: 12345 -> 12.3k."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _spread(s: Stats | None, unit: str = "") -> tuple[str, str]:
    if s is None:
        return "-", ""
    head = f"{human(s.median)}{(' ' + unit) if unit else ''}"
    tail = f"[{human(s.low)}..{human(s.high)}]" if len(s.samples) > 1 else ""
    return head, tail


def table(rows: Sequence[Row]) -> str:
    """The one table ``python -m bench`` prints."""
    header = (
        "#",
        "figure",
        "median",
        "[min..max]",
        "baseline (same run)",
        "median",
        "ratio",
        "[min..max]",
        "target",
        "verdict",
    )
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        if row.skip is not None:
            lines.append(
                (row.area, row.figure, f"skipped: {row.skip}", "", "", "", "", "", "", "skipped")
            )
            continue
        value, value_range = _spread(row.value, row.unit)
        base, _ = _spread(row.base, row.unit)
        ratio, ratio_range = _spread(row.ratio)
        lines.append(
            (
                row.area,
                row.figure,
                value,
                value_range,
                row.baseline or "-",
                base,
                ratio if row.ratio else "-",
                ratio_range,
                str(row.target) if row.target else "-",
                row.verdict,
            )
        )
    # A skipped row's reason may be long: it spans the columns after the figure.
    widths = [
        max(len(line[i]) for line in lines if line[-1] != "skipped" or i != 2)
        for i in range(len(header))
    ]
    out = []
    for line in lines:
        if line[-1] == "skipped":
            out.append(f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}")
            continue
        cells = [
            f"{cell:<{w}}" if i in (0, 1, 4) else f"{cell:>{w}}"
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if line is header:
            out.append("-" * len(out[-1]))
    notes = [f"  [{r.area}] {r.figure}: {r.note}" for r in rows if r.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)
