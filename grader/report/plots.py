"""The pictures of the HTML views, drawn with matplotlib and returned as PNG data URIs.

PNG rather than SVG: whatever text a plot carries (a student's layer names) ends up as pixels,
so it cannot put markup into the page. Figures are built with the object-oriented API on the Agg
canvas, so no pyplot state (and no display) is involved, and nothing outlives a call.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave

DPI = 100
GREEN, AMBER, RED, BLUE, GREY = "#1a7f37", "#b7791f", "#cf222e", "#3b6ea8", "#6e7781"
LABEL_LENGTH = 18
"""Layer names longer than this are cut in plot labels (the table beside the plot has them whole)."""


def figure_uri(figure: Figure) -> str:
    """The figure as a `data:image/png;base64,...` URI."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_uri(image: np.ndarray) -> str:
    """One evaluation image (28x28, 28x28x1 or 32x32x3, uint8 0..255) as a PNG data URI."""
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    if pixels.ndim == 2:
        imsave(buffer, pixels, format="png", cmap="gray", vmin=0, vmax=255)
    else:
        imsave(buffer, pixels, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def accuracy_scale(accuracy: float, pass_mark: float, floor: float,
                   reference: dict | None = None) -> str:
    """The grader's accuracy on a scale coloured by credit: none below the floor, partial up to
    the pass mark, full above; the reference's min..max band drawn above it."""
    reference = reference or {}
    known = [value for value in (accuracy, pass_mark, floor, reference.get("min"), reference.get("max"))
             if isinstance(value, (int, float)) and math.isfinite(value)]
    low = max(0.0, min(known) - 0.03)
    high = min(1.0, max(known) + 0.03) if max(known) < 0.97 else 1.0
    figure = Figure(figsize=(5.6, 1.35), dpi=DPI)
    axes = figure.add_axes((0.03, 0.36, 0.94, 0.6))
    axes.axvspan(low, floor, color=RED, alpha=0.16, lw=0)
    axes.axvspan(floor, pass_mark, color=AMBER, alpha=0.2, lw=0)
    axes.axvspan(pass_mark, high, color=GREEN, alpha=0.16, lw=0)
    for value, text in ((floor, "floor"), (pass_mark, "pass mark")):
        axes.axvline(value, color=GREY, lw=1, ls="--")
        axes.text(value, 0.03, f" {text} {value:.3f}", fontsize=7.5, color="#333", va="bottom")
    for left, right, text in ((low, floor, "no points"), (floor, pass_mark, "partial credit"),
                              (pass_mark, high, "full points")):
        if right - left > (high - low) * 0.08:
            axes.text((left + right) / 2, 0.97, text, fontsize=7, color=GREY, ha="center", va="top")
    if "min" in reference and "max" in reference:
        axes.plot([reference["min"], reference["max"]], [0.7, 0.7], color=BLUE, lw=9,
                  solid_capstyle="butt")
        if "mean" in reference:
            axes.plot([reference["mean"]], [0.7], marker="|", color="white", markersize=9, mew=2)
        axes.text(reference["min"], 0.7, "reference  ", fontsize=7.5, color=BLUE, va="center", ha="right")
    colour = GREEN if accuracy >= pass_mark else AMBER if accuracy > floor else RED
    axes.plot([accuracy], [0.42], marker="v", color=colour, markersize=11)
    axes.text(accuracy, 0.2, f"{accuracy:.3f}", fontsize=9, fontweight="bold", color=colour, ha="center")
    axes.set_xlim(low, high)
    axes.set_ylim(0, 1)
    axes.set_yticks([])
    axes.tick_params(axis="x", labelsize=7.5)
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    return figure_uri(figure)


def size_trace(steps: list[dict], collapse: str | None) -> str:
    """Map size layer by layer, from the input to the layer where it collapses (drawn in red)."""
    labels, sizes, colours = ["input"], [_side(steps[0]["size_in"])], [GREY]
    for step in steps:
        labels.append(_short(step["layer"]) + "\n" + _short(step.get("class_name") or ""))
        sizes.append(_side(step["size_out"]))
        colours.append(RED if step["layer"] == collapse else BLUE)
    texts = ["x".join(_size_text(value) for value in steps[0]["size_in"])]
    texts += ["x".join(_size_text(value) for value in step["size_out"]) for step in steps]
    width = max(3.6, 0.95 * len(labels) + 1.0)
    figure = Figure(figsize=(width, 2.4), dpi=DPI)
    axes = figure.add_axes((0.65 / width, 0.2, 1 - 0.8 / width, 0.74))
    positions = np.arange(len(labels))
    heights = [max(size, 0) if size is not None else 0 for size in sizes]
    axes.bar(positions, heights, color=colours, width=0.62)
    axes.step(positions, heights, where="mid", color="#333", lw=0.8, alpha=0.5)
    top = max(heights + [1])
    for position, height, text, colour in zip(positions, heights, texts, colours):
        collapsed = colour == RED
        axes.text(position, height + top * (0.12 if collapsed else 0.03),
                  f"{text}\ncollapses" if collapsed else text, ha="center", va="bottom", fontsize=8,
                  color=RED if collapsed else "#222", fontweight="bold" if collapsed else "normal")
    for position, colour in zip(positions, colours):
        if colour == RED:
            axes.plot([position], [0], marker="X", color=RED, markersize=12, clip_on=False)
    axes.set_xticks(positions, labels, fontsize=7.5, rotation=0)
    for tick, colour in zip(axes.get_xticklabels(), colours):
        tick.set_color(RED if colour == RED else "#222")
    axes.set_ylim(0, top * 1.25)
    axes.set_ylabel("map size (pixels)", fontsize=8)
    axes.tick_params(axis="y", labelsize=7.5)
    for side in ("right", "top"):
        axes.spines[side].set_visible(False)
    return figure_uri(figure)


def learning_curves(history: dict) -> str | None:
    """Loss and accuracy per epoch from a `fit` history; None when it holds no numbers."""
    series = {key: _numbers(values) for key, values in history.items()}
    series = {key: values for key, values in series.items() if values}
    loss = [key for key in ("loss", "val_loss") if key in series]
    accuracy = sorted(key for key in series if "acc" in key)
    panels = [group for group in (loss, accuracy) if group]
    if not panels:
        return None
    figure = Figure(figsize=(3.3 * len(panels), 2.3), dpi=DPI)
    for index, keys in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        for key in keys:
            values = series[key]
            epochs = np.arange(1, len(values) + 1)
            axes.plot(epochs, values, marker="o", markersize=3, lw=1.4, label=key,
                      ls="--" if key.startswith("val_") else "-")
        axes.set_xlabel("epoch", fontsize=8)
        axes.set_title("loss" if keys is loss else "accuracy", fontsize=9)
        axes.tick_params(labelsize=7.5)
        axes.legend(fontsize=7, frameon=False)
        axes.xaxis.get_major_locator().set_params(integer=True)
        for side in ("right", "top"):
            axes.spines[side].set_visible(False)
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.2, top=0.88, wspace=0.3)
    return figure_uri(figure)


def score_histogram(scores: list[float], maximum: float) -> str:
    """How many submissions scored how much, in ten bins from 0 to the maximum."""
    top = maximum if maximum > 0 else max(scores + [1.0])
    figure = Figure(figsize=(5.2, 2.3), dpi=DPI)
    axes = figure.add_axes((0.1, 0.2, 0.86, 0.72))
    counts, edges, _ = axes.hist(np.clip(scores, 0, top), bins=np.linspace(0, top, 11), color=BLUE,
                                 edgecolor="white")
    for count, left, right in zip(counts, edges[:-1], edges[1:]):
        if count:
            axes.text((left + right) / 2, count, f"{int(count)}", ha="center", va="bottom", fontsize=8)
    axes.set_xlabel(f"points (of {top:g})", fontsize=8)
    axes.set_ylabel("submissions", fontsize=8)
    axes.set_ylim(0, max(counts.max(initial=0), 1) * 1.2)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.tick_params(labelsize=7.5)
    for side in ("right", "top"):
        axes.spines[side].set_visible(False)
    return figure_uri(figure)


def _side(size) -> int | None:
    known = [value for value in size if value is not None]
    return min(known) if known else None


def _size_text(value) -> str:
    return "?" if value is None else str(value)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1] + "…"


def _numbers(values) -> list[float]:
    if not isinstance(values, (list, tuple)):
        return []
    numbers = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return []
        numbers.append(number)
    return numbers if any(math.isfinite(number) for number in numbers) else []
