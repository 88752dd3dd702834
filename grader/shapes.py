"""Size arithmetic of convolution and pooling windows, the way Keras computes it.

Pure functions on integers: they say what a layer does to a feature map without building it, so
the grader can trace a model that Keras refused to build and name the layer where a map collapses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def window_output_length(length: int, window: int, stride: int = 1, padding: str = "valid",
                         dilation: int = 1) -> int:
    """Output length of a sliding window (convolution kernel or pooling window) along one axis.

    'same' keeps ceil(length / stride); 'valid' keeps the positions where the whole (dilated)
    window fits. A result of zero or less means the map has collapsed.
    """
    if length is None:
        return None
    if window < 1 or stride < 1 or dilation < 1:
        raise ValueError(f"window {window}, stride {stride} and dilation {dilation} must be positive")
    padding = padding.lower()
    if padding == "same":
        return math.ceil(length / stride)
    if padding in ("valid", "causal"):
        effective = (window - 1) * dilation + 1
        return (length - effective) // stride + 1 if padding == "valid" else math.ceil(length / stride)
    raise ValueError(f"unknown padding {padding!r}")


@dataclass(frozen=True)
class TraceStep:
    """One spatial layer in a trace: the map size going in and coming out."""

    layer: str
    class_name: str
    size_in: tuple[int, ...]
    size_out: tuple[int, ...]
    window: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str

    @property
    def collapsed(self) -> bool:
        return any(size is not None and size <= 0 for size in self.size_out)

    @property
    def too_small(self) -> bool:
        """The window is larger than the map it slides over (with 'valid' padding)."""
        return self.padding == "valid" and any(
            size is not None and size < window for size, window in zip(self.size_in, self.window)
        )


def spatial_output(size: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...],
                   padding: str, dilation: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """Apply `window_output_length` on every spatial axis."""
    dilation = dilation or (1,) * len(size)
    return tuple(
        window_output_length(length, w, s, padding, d)
        for length, w, s, d in zip(size, window, strides, dilation)
    )


def format_size(size: tuple[int, ...]) -> str:
    return "x".join("?" if value is None else str(value) for value in size)


def format_trace(steps: list[TraceStep]) -> str:
    """'32x32 -conv2d-> 16x16 -max_pooling2d-> 8x8 ...', the path that led to a collapse."""
    if not steps:
        return ""
    parts = [format_size(steps[0].size_in)]
    for step in steps:
        parts.append(f"-{step.layer}-> {format_size(step.size_out)}")
    return " ".join(parts)
