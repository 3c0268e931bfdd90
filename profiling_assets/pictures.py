"""Pictures for the UI: matplotlib figures rendered to PNG and embedded in markdown metadata
(Dagster's asset page shows the image inline; nothing is written next to the warehouse)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import dagster as dg
import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    return plt


def png_metadata(fig, title: str) -> dg.MetadataValue:
    """The figure as an inline PNG in a markdown metadata value; the figure is closed."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{data})")


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> dg.MetadataValue:
    """ROC curves of several scorers: name -> (false positive rates, true positive rates, AUC)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", linewidth=1.6)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    return png_metadata(fig, title)


def calibration_plot(rows: Sequence[Sequence[float]], title: str) -> dg.MetadataValue:
    """Mean predicted probability against the observed rate, one point per decile."""
    plt = _pyplot()
    predicted = [r[2] for r in rows]
    observed = [r[3] for r in rows]
    top = max([*predicted, *observed, 0.05]) * 1.05
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.plot(predicted, observed, marker="o", linewidth=1.4, label="deciles")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title=title,
           xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left", fontsize=7)
    return png_metadata(fig, title)
