"""Convolution and pooling size arithmetic (grader/shapes.py), checked against Keras's rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.shapes import TraceStep, format_size, format_trace, spatial_output, window_output_length

QUICK = settings(database=None, deadline=None, max_examples=200)


@pytest.mark.parametrize("length, window, stride, padding, dilation, expected", [
    (28, 3, 1, "same", 1, 28),
    (28, 3, 1, "valid", 1, 26),
    (28, 2, 2, "valid", 1, 14),       # MaxPooling2D(2)
    (7, 2, 2, "valid", 1, 3),         # 7x7 pooled by 2 drops the last row
    (28, 3, 3, "valid", 1, 9),        # AveragePooling2D(3)
    (9, 3, 3, "valid", 1, 3),
    (32, 3, 2, "same", 1, 16),        # strided convolution
    (7, 3, 2, "same", 1, 4),          # 'same' keeps ceil(length / stride)
    (1, 3, 2, "same", 1, 1),
    (28, 3, 1, "valid", 2, 24),       # a 3-tap kernel dilated by 2 spans 5
    (28, 3, 2, "valid", 2, 12),
    (10, 3, 1, "SAME", 1, 10),        # Keras accepts either case
    (10, 3, 2, "causal", 1, 5),
    (None, 3, 1, "valid", 1, None),   # unknown length stays unknown
])
def test_window_output_length(length, window, stride, padding, dilation, expected):
    assert window_output_length(length, window, stride, padding, dilation) == expected


@pytest.mark.parametrize("length, window, stride, expected", [
    (2, 2, 2, 1),     # exactly fits
    (1, 2, 2, 0),     # a 2x2 window on a 1x1 map: collapse to 0
    (1, 3, 1, -1),    # collapse below 0: the window overshoots by two
    (2, 5, 1, -2),
    (0, 2, 2, 0),     # an already empty map stays empty
])
def test_valid_window_larger_than_the_map_collapses(length, window, stride, expected):
    assert window_output_length(length, window, stride, "valid") == expected


@pytest.mark.parametrize("window, stride, padding, dilation", [
    (0, 1, "valid", 1), (3, 0, "valid", 1), (3, 1, "valid", 0), (3, 1, "full", 1),
])
def test_impossible_windows_raise(window, stride, padding, dilation):
    with pytest.raises(ValueError):
        window_output_length(10, window, stride, padding, dilation)


def _valid_positions(length: int, window: int, stride: int, dilation: int) -> int:
    """Count by hand where a dilated window can start and still lie inside the map."""
    span = (window - 1) * dilation + 1
    return sum(1 for start in range(0, length, stride) if start + span <= length)


@QUICK
@given(length=st.integers(0, 80), window=st.integers(1, 9), stride=st.integers(1, 5),
       dilation=st.integers(1, 4))
def test_valid_length_counts_window_positions(length, window, stride, dilation):
    result = window_output_length(length, window, stride, "valid", dilation)
    positions = _valid_positions(length, window, stride, dilation)
    assert max(result, 0) == positions
    assert (result <= 0) == (positions == 0)


@QUICK
@given(length=st.integers(1, 80), window=st.integers(1, 9), stride=st.integers(1, 5))
def test_same_length_counts_stride_positions(length, window, stride):
    assert window_output_length(length, window, stride, "same") == len(range(0, length, stride))
    assert window_output_length(length, window, stride, "same") >= window_output_length(length, window, stride, "valid")


def test_spatial_output_applies_each_axis():
    assert spatial_output((28, 20), (3, 5), (1, 2), "valid") == (26, 8)
    assert spatial_output((28, 28), (3, 3), (1, 1), "valid", (2, 1)) == (24, 26)


def _step(layer, size_in, size_out, window=(2, 2), padding="valid", class_name="MaxPooling2D"):
    return TraceStep(layer, class_name, size_in, size_out, window, window, padding)


@pytest.mark.parametrize("step, collapsed, too_small", [
    (_step("p", (4, 4), (2, 2)), False, False),
    (_step("p", (1, 1), (0, 0)), True, True),
    (_step("c", (2, 2), (-1, -1), window=(4, 4), class_name="Conv2D"), True, True),
    (_step("p", (1, 1), (1, 1), padding="same"), False, False),
    (_step("p", (None, None), (None, None)), False, False),
])
def test_trace_step_flags(step, collapsed, too_small):
    assert step.collapsed is collapsed
    assert step.too_small is too_small


@pytest.mark.parametrize("size, text", [((28, 28), "28x28"), ((7,), "7"), ((None, 5), "?x5"), ((0, 0), "0x0")])
def test_format_size(size, text):
    assert format_size(size) == text


def test_format_trace_names_each_layer_between_sizes():
    steps = [
        _step("conv2d", (32, 32), (16, 16), window=(3, 3), padding="same", class_name="Conv2D"),
        _step("max_pooling2d", (16, 16), (8, 8)),
        _step("max_pooling2d_1", (1, 1), (0, 0)),
    ]
    assert format_trace(steps) == "32x32 -conv2d-> 16x16 -max_pooling2d-> 8x8 -max_pooling2d_1-> 0x0"
    assert format_trace([]) == ""

