"""Medians, ranges and Chorus-to-baseline ratios, rendered as markdown tables."""

from __future__ import annotations

import statistics

import attrs


@attrs.frozen
class Metric:
    """One figure a case produces; ``higher_is_better`` only labels the ratio direction.

    ``compared``: whether the figure belongs in the ratios table (not so for a reading of the
    machine that only some targets take).
    """

    key: str
    label: str
    higher_is_better: bool
    digits: int = 0
    compared: bool = True


@attrs.define
class Results:
    """``values[target][metric key]``: one value per repeat; ``notes``: problems to show."""

    targets: list[str]
    metrics: list[Metric]
    values: dict[str, dict[str, list[float]]] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)

    def add(self, target: str, key: str, value: float) -> None:
        self.values.setdefault(target, {}).setdefault(key, []).append(value)

    def median(self, target: str, key: str) -> float | None:
        found = self.values.get(target, {}).get(key)
        return statistics.median(found) if found else None


def _num(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def cell(values: list[float] | None, digits: int) -> str:
    """``median [min-max]`` (just the value for one repeat), or ``n/a``."""
    if not values:
        return "n/a"
    mid = _num(statistics.median(values), digits)
    if len(values) == 1:
        return mid
    return f"{mid} [{_num(min(values), digits)}-{_num(max(values), digits)}]"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def figures_table(results: Results) -> str:
    """One row per metric, one column per target: median [range] over the repeats."""
    lines = [
        _row(["metric", *results.targets]),
        _row(["---"] * (1 + len(results.targets))),
    ]
    for metric in results.metrics:
        cells = [
            cell(results.values.get(t, {}).get(metric.key), metric.digits) for t in results.targets
        ]
        lines.append(_row([metric.label, *cells]))
    return "\n".join(lines)


def ratios_table(results: Results, subjects: list[str], baselines: list[str]) -> str:
    """Each subject's median divided by each baseline's median, per metric."""
    pairs = [(s, b) for s in subjects for b in baselines]
    lines = [
        _row(["metric (better)", *(f"{s} / {b}" for s, b in pairs)]),
        _row(["---"] * (1 + len(pairs))),
    ]
    for metric in (m for m in results.metrics if m.compared):
        cells = []
        for subject, baseline in pairs:
            top, bottom = results.median(subject, metric.key), results.median(baseline, metric.key)
            cells.append("n/a" if top is None or not bottom else f"{top / bottom:.2f}x")
        direction = "higher" if metric.higher_is_better else "lower"
        lines.append(_row([f"{metric.label} ({direction})", *cells]))
    return "\n".join(lines)
