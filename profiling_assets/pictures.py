"""Pictures for the UI: matplotlib figures rendered to PNG and embedded in markdown metadata
(Dagster's asset page shows the image inline; nothing is written next to the warehouse).

Each function takes plain numbers and arrays (no warehouse access) and returns one metadata
value. Drawing never fails a run: without data, or when matplotlib raises, the value is a
line of text that says why there is no picture. Figures are built on ``matplotlib.figure``
directly, not through pyplot's global state, so nothing is left open when a drawing fails and
concurrent runs in one process do not share figures."""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
import numpy as np

# A picture heavier than this is rendered again at a lower resolution: metadata stays light.
MAX_PNG_BYTES = 60_000
DPI, FALLBACK_DPI = 90, 60
PALETTE = 256
# Stacked series beyond this many are summed into "other" (the legend stays readable).
MAX_SERIES = 10
# Tick labels shown at most along a categorical axis (every n-th label beyond that).
MAX_TICKS = 16


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    return plt


def _figure(width: float, height: float):
    """A figure outside pyplot's registry (garbage-collected, nothing to close)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _colors(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _png(fig, dpi: int) -> bytes:
    """The figure as a PNG with a palette of PALETTE colours: a chart has few colours, and a
    palette image is a third of the size of a true-colour one."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    try:
        from PIL import Image  # matplotlib's own dependency
    except ImportError:
        return buffer.getvalue()
    buffer.seek(0)
    small = io.BytesIO()
    palette = Image.open(buffer).convert("RGB").quantize(colors=PALETTE)
    palette.save(small, format="PNG", optimize=True)
    return min(buffer.getvalue(), small.getvalue(), key=len)


def png_metadata(fig, title: str) -> dg.MetadataValue:
    """The figure as an inline PNG in a markdown metadata value; the figure is closed."""
    plt = _pyplot()
    png = _png(fig, DPI)
    if len(png) > MAX_PNG_BYTES:
        png = _png(fig, FALLBACK_DPI)
    plt.close(fig)
    data = base64.b64encode(png).decode()
    alt = title.replace("[", "(").replace("]", ")")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{data})")


def not_drawn(why: str) -> dg.MetadataValue:
    """What stands in for a picture that could not be drawn."""
    return dg.MetadataValue.text(f"no picture: {why}")


def never_fails(draw: Callable[..., dg.MetadataValue]) -> Callable[..., dg.MetadataValue]:
    """A picture is a convenience: whatever goes wrong drawing it, the run goes on and the
    metadata says why the picture is missing."""

    @functools.wraps(draw)
    def drawn(*args: Any, **kwargs: Any) -> dg.MetadataValue:
        try:
            return draw(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - no picture is worth a failed run
            return not_drawn(f"{type(exc).__name__}: {exc}"[:300])

    return drawn


def _thin_ticks(ax, positions: Sequence[float], labels: Sequence[str], axis: str = "x") -> None:
    every = max(1, -(-len(labels) // MAX_TICKS))
    shown = list(range(0, len(labels), every))
    set_ticks = ax.set_xticks if axis == "x" else ax.set_yticks
    set_ticks([positions[i] for i in shown], [str(labels[i]) for i in shown], fontsize=7)


@never_fails
def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> dg.MetadataValue:
    """ROC curves of several scorers: name -> (false positive rates, true positive rates, AUC)."""
    fig = _figure(4.6, 4.2)
    ax = fig.subplots()
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", linewidth=1.6)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    return png_metadata(fig, title)


@never_fails
def calibration_plot(rows: Sequence[Sequence[float]], title: str) -> dg.MetadataValue:
    """Mean predicted probability against the observed rate, one point per decile."""
    predicted = [r[2] for r in rows]
    observed = [r[3] for r in rows]
    top = max([*predicted, *observed, 0.05]) * 1.05
    fig = _figure(4.2, 4.2)
    ax = fig.subplots()
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.plot(predicted, observed, marker="o", linewidth=1.4, label="deciles")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title=title,
           xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left", fontsize=7)
    return png_metadata(fig, title)


@never_fails
def bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[float]], title: str, *,
              value_label: str = "", value_format: str = "{:.3f}") -> dg.MetadataValue:
    """Horizontal bars, one group per category (first on top), one bar per series in each
    group, each bar labelled with its value."""
    if not len(categories) or not series:
        return not_drawn("no data")
    n, k = len(categories), len(series)
    height = 0.8 / k
    fig = _figure(5.2, min(6.0, 1.2 + n * (0.22 + 0.16 * k)))
    ax = fig.subplots()
    y = np.arange(n)[::-1].astype(float)
    top = max((float(v) for values in series.values() for v in values), default=0.0)
    for j, ((name, values), color) in enumerate(zip(series.items(), _colors(k), strict=True)):
        at = y + (k - 1 - 2 * j) * height / 2
        bars = ax.barh(at, np.asarray(values, dtype=float), height=height * 0.95, color=color,
                       label=name)
        ax.bar_label(bars, labels=[value_format.format(v) for v in values], fontsize=6, padding=2)
    ax.set_yticks(y, [str(c) for c in categories], fontsize=7)
    ax.set_xlim(0, top * 1.18 if top > 0 else 1)
    ax.set(xlabel=value_label, title=title)
    ax.title.set_fontsize(9)
    if k > 1:
        ax.legend(fontsize=7, loc="lower right")
    return png_metadata(fig, title)


@never_fails
def stacked_bars(x: Sequence[Any], panels: Mapping[str, Mapping[str, Sequence[float]]], title: str,
                 *, shares: bool = False, outline: tuple[str, Sequence[float]] | None = None,
                 ) -> dg.MetadataValue:
    """Stacked bars per x (days, usually): one panel per y label, each stacking its series.
    ``shares``: each bar scaled to 100%. ``outline``: (name, totals) marked over the first
    panel (e.g. lines read over accepted + rejected). Panels whose series are all zero are
    left out; series beyond MAX_SERIES (the smallest) are summed into "other"."""
    kept = {label: {name: np.asarray(v, dtype=float) for name, v in series.items()}
            for label, series in panels.items()
            if any(np.asarray(v, dtype=float).sum() > 0 for v in series.values())}
    if not len(x) or not kept:
        return not_drawn("no data")
    fig = _figure(6.0, 1.2 + 2.2 * len(kept))
    axes = np.atleast_1d(fig.subplots(len(kept), 1, sharex=True, squeeze=False)[:, 0])
    positions = np.arange(len(x), dtype=float)
    for i, (ax, (label, series)) in enumerate(zip(axes, kept.items(), strict=True)):
        series = {name: v for name, v in series.items() if v.sum() > 0}
        if len(series) > MAX_SERIES:
            order = sorted(series, key=lambda name: -series[name].sum())
            series = {**{n: series[n] for n in order[:MAX_SERIES - 1]},
                      "other": np.sum([series[n] for n in order[MAX_SERIES - 1:]], axis=0)}
        totals = np.sum(list(series.values()), axis=0)
        scale = np.where(totals > 0, 100.0 / np.maximum(totals, 1e-12), 0.0) if shares else 1.0
        bottom = np.zeros(len(x))
        for (name, values), color in zip(series.items(), _colors(len(series)), strict=True):
            ax.bar(positions, values * scale, bottom=bottom, width=0.8, color=color, label=name)
            bottom += values * scale
        if outline is not None and i == 0:  # a dash per bar, a line when bars are thin
            ax.plot(positions, np.asarray(outline[1], dtype=float), color="black",
                    **({"linestyle": "none", "marker": "_", "markersize": 10} if len(x) <= 31
                       else {"linewidth": 0.6}), label=outline[0])
        ax.set_ylabel(f"{label} (%)" if shares else label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _thin_ticks(axes[-1], positions, [str(v) for v in x])
    axes[-1].tick_params(axis="x", labelrotation=45)
    axes[0].set_title(title, fontsize=9)
    return png_metadata(fig, title)


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[:window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


@never_fails
def line_chart(series: Mapping[str, tuple[Sequence[Any], Sequence[float]]], title: str, *,
               xlabel: str = "", ylabel: str = "", vlines: Mapping[str, Any] | None = None,
               hlines: Mapping[str, float] | None = None, markers: bool = False,
               smooth: bool = False, from_zero: bool = False) -> dg.MetadataValue:
    """One line per series, each with its own x (numbers or dates): name -> (x, y).
    ``vlines``/``hlines``: labelled reference lines (a chosen k, a floor). ``smooth``: the raw
    values drawn faint under their running mean over a twentieth of the points.
    ``from_zero``: the y axis starts at 0 (counts)."""
    series = {name: (list(xs), np.asarray(ys, dtype=float)) for name, (xs, ys) in series.items()
              if len(ys)}
    if not series:
        return not_drawn("no data")
    fig = _figure(5.4, 3.4)
    ax = fig.subplots()
    for (name, (xs, ys)), color in zip(series.items(), _colors(len(series)), strict=True):
        if smooth and len(ys) >= 20:
            ax.plot(xs, ys, color=color, linewidth=0.7, alpha=0.35)
            ax.plot(xs, _rolling_mean(ys, max(2, len(ys) // 20)), color=color, linewidth=1.6,
                    label=f"{name} (running mean)")
        else:
            ax.plot(xs, ys, color=color, linewidth=1.5, markersize=4, label=name,
                    marker="o" if markers or len(ys) < 3 else None)
    for (name, at), style in zip((vlines or {}).items(), ("--", ":", "-."), strict=False):
        ax.axvline(at, color="grey", linestyle=style, linewidth=1, label=name)
    for (name, at), style in zip((hlines or {}).items(), (":", "--", "-."), strict=False):
        ax.axhline(at, color="firebrick", linestyle=style, linewidth=1, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    if from_zero:
        ax.set_ylim(bottom=0)
    xs = [x for values, _ in series.values() for x in values]
    if all(isinstance(x, int | np.integer) for x in xs):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # k, steps: no 4.5
    elif any(hasattr(x, "toordinal") for x in xs):
        fig.autofmt_xdate()
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return png_metadata(fig, title)


@never_fails
def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str],
                     title: str) -> dg.MetadataValue:
    """Counts of (true, predicted) label indexes; cells coloured by the share of their row
    (the true label's recall on the diagonal), counts written in when the matrix is small."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if not len(y_true) or not len(labels):
        return not_drawn("no held-out predictions")
    n = len(labels)
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = min(6.0, 2.6 + 0.32 * n)
    fig = _figure(side + 0.8, side)
    ax = fig.subplots()
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if rows[i, j] > 0.6 else "black")
    names = [str(label)[:18] for label in labels]
    ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=6)
    ax.set_yticks(range(n), names, fontsize=6)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label")
    return png_metadata(fig, title)


@never_fails
def scatter(xy: np.ndarray, groups: Sequence[str], title: str, *, xlabel: str = "",
            ylabel: str = "", max_points: int = 5000, seed: int = 0) -> dg.MetadataValue:
    """Points coloured by group (at most ``max_points``, a fixed random sample), one legend
    entry per group with its count among the points drawn."""
    xy, groups = np.asarray(xy, dtype=float), np.asarray(groups, dtype=object)
    if xy.ndim != 2 or xy.shape[1] < 2 or not len(xy):
        return not_drawn("no points to project")
    if len(xy) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(xy), max_points, replace=False))
        xy, groups = xy[keep], groups[keep]
    names = sorted(set(groups), key=str)
    fig = _figure(5.4, 4.4)
    ax = fig.subplots()
    for name, color in zip(names, _colors(len(names)), strict=True):
        at = groups == name
        ax.scatter(xy[at, 0], xy[at, 1], s=4, color=color, linewidths=0,
                   label=f"{name} ({int(at.sum()):,})")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, markerscale=2.5, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    return png_metadata(fig, title)


def pivot(rows: Sequence[Sequence[Any]]) -> tuple[list[Any], dict[str, list[float]]]:
    """(x, series, value) rows as the x values in order of appearance and, per series, one
    value per x (0 where a series has no row), for ``stacked_bars``."""
    xs = list(dict.fromkeys(r[0] for r in rows))
    at = {x: i for i, x in enumerate(xs)}
    series: dict[str, list[float]] = {}
    for x, name, value in rows:
        series.setdefault(str(name), [0.0] * len(xs))[at[x]] += float(value or 0)
    return xs, series


def latest_shares(series: Mapping[str, Sequence[float]],
                  prefix: str) -> dict[str, dg.MetadataValue]:
    """Each series' share of the last x (the newest day of a ``pivot``) as float metadata,
    keyed ``<prefix>_<series name in snake case>``: the numbers behind the newest bar, for
    Dagster's own plots across materializations."""
    last = {name: float(values[-1]) for name, values in series.items() if len(values)}
    total = sum(last.values())
    if not total:
        return {}
    return {f"{prefix}_{re.sub(r'[^0-9a-z]+', '_', name.lower()).strip('_')}":
            dg.MetadataValue.float(value / total) for name, value in last.items()}
