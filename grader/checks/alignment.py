"""Aligning a submitted layer list with the expected one, so a missing layer is seen as missing.

A plain zip stops at the shorter list and blames every layer after a gap; an edit-distance
alignment by layer class pairs what corresponds and leaves gaps where layers are missing or extra.
Where several alignments cost the same (an extra Dense next to the expected one), the one that
pairs more layers of the same output shape and parameter count wins, so the layer the student
added is the one called extra.
"""

from __future__ import annotations

from typing import Sequence

from ..layers import LayerRow

ALIASES = {"MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D", "MaxPool1D": "MaxPooling1D",
           "AvgPool1D": "AveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
           "GlobalMaxPool2D": "GlobalMaxPooling2D", "Model": "Functional", "Sequential": "Functional"}
GAP_COST = 1.0
SUBSTITUTION_COST = 1.0
Pair = tuple[LayerRow | None, LayerRow | None]


def canonical_class(class_name: str) -> str:
    return ALIASES.get(class_name, class_name)


def same_family(expected: LayerRow, actual: LayerRow) -> bool:
    return canonical_class(expected.class_name) == canonical_class(actual.class_name)


def _match_cost(expected: LayerRow, actual: LayerRow, tie: float) -> float:
    """0 for the same layer, `tie` for the same class with another shape or count, else a substitution."""
    if not same_family(expected, actual):
        return SUBSTITUTION_COST
    return 0.0 if (expected.output_shape, expected.params) == (actual.output_shape, actual.params) else tie


def align_layers(expected: Sequence[LayerRow], actual: Sequence[LayerRow]) -> list[Pair]:
    """Pairs (expected, actual) in order; None on one side marks a missing or an extra layer."""
    rows, cols = len(expected), len(actual)
    # All the tie-breaks of one alignment add up to less than one gap: they never change its class edits.
    tie = GAP_COST / (rows + cols + 1)
    cost = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        cost[i][0] = i * GAP_COST
    for j in range(1, cols + 1):
        cost[0][j] = j * GAP_COST
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            match = _match_cost(expected[i - 1], actual[j - 1], tie)
            cost[i][j] = min(cost[i - 1][j - 1] + match, cost[i - 1][j] + GAP_COST, cost[i][j - 1] + GAP_COST)
    pairs: list[Pair] = []
    i, j = rows, cols
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            match = _match_cost(expected[i - 1], actual[j - 1], tie)
            if cost[i][j] == cost[i - 1][j - 1] + match:
                pairs.append((expected[i - 1], actual[j - 1]))
                i, j = i - 1, j - 1
                continue
        if i > 0 and cost[i][j] == cost[i - 1][j] + GAP_COST:
            pairs.append((expected[i - 1], None))
            i -= 1
        else:
            pairs.append((None, actual[j - 1]))
            j -= 1
    pairs.reverse()
    return pairs
