"""The op-kind rule (patternlite.op_kinds): the contract's KIND_RULES, what the delegate claims by shape."""

from __future__ import annotations

import pytest

from patternlite.op_kinds import kind_of, kind_value_of


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (("CONV_2D", (3, 3)), "conv3x3"),
        (("CONV_2D", (3, 3), (2, 2)), "conv3x3"),
        (("CONV_2D", (3, 3), (1, 2)), "conv3x3"),
        (("CONV_2D", (3, 3), (3, 3)), None),  # stride 3: the delegate declines it
        (("CONV_2D", (3, 3), (1, 1), (2, 2)), None),  # dilated 3x3
        (("CONV_2D", (1, 1)), "pointwise"),
        (("CONV_2D", (1, 1), (2, 2)), "pointwise"),
        (("CONV_2D", (1, 1), (1, 1), (2, 2)), "pointwise"),  # dilation does not change a 1x1 conv
        (("CONV_2D", (1, 1), (3, 3)), None),
        (("CONV_2D", (5, 5)), None),
        (("DEPTHWISE_CONV_2D", (3, 3)), "depthwise3x3"),
        (("DEPTHWISE_CONV_2D", (3, 3), (2, 2)), "depthwise3x3"),
        (("DEPTHWISE_CONV_2D", (3, 3), (1, 1), (1, 1), 2), None),  # depth multiplier 2
        (("DEPTHWISE_CONV_2D", (3, 3), (1, 1), (2, 2)), None),
        (("DEPTHWISE_CONV_2D", (1, 1)), None),
        (("FULLY_CONNECTED", (3, 3)), None),
    ],
)
def test_kind_of(args: tuple, kind: str | None) -> None:  # type: ignore[type-arg]
    assert kind_of(*args) == kind


def test_kind_values_are_the_metadata_kinds() -> None:
    from patternlite.metadata import KINDS

    for value, name in enumerate(KINDS):
        op = "DEPTHWISE_CONV_2D" if name == "depthwise3x3" else "CONV_2D"
        kernel = (1, 1) if name == "pointwise" else (3, 3)
        assert kind_value_of(op, kernel) == value
        assert kind_of(op, kernel) == name
