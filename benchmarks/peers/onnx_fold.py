"""Fold ONNX Pad nodes into the Conv/MaxPool that reads them.

pnnx silently drops ONNX Pad ops (found on this machine), which changes shapes and
numbers; tf2onnx emits them for Keras ZeroPadding2D and for TF's asymmetric SAME
padding with stride 2.  Zero padding folds exactly into a Conv's ``pads``.  For MaxPool
it is exact only when the input is non-negative (it follows a Relu), which we check.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _const(model: Any, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def fold_pads(model: Any) -> tuple[int, list[str]]:
    """Rewrite ``model`` in place; return (pads folded, reasons for pads left alone)."""
    from onnx import helper

    graph = model.graph
    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    folded, left = 0, []
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        attrs = {a.name: helper.get_attribute_value(a) for a in pad.attribute}
        mode = attrs.get("mode", b"constant")
        pads = _const(model, pad.input[1]) if len(pad.input) > 1 else None
        value = _const(model, pad.input[2]) if len(pad.input) > 2 and pad.input[2] else np.zeros(1)
        users = consumers.get(pad.output[0], [])
        why = None
        if mode not in (b"constant", "constant") or pads is None or value is None or np.any(value != 0):
            why = "not a constant zero pad"
        elif len(pads) != 8 or np.any(pads[[0, 1, 4, 5]] != 0) or np.any(pads < 0):
            why = f"pads {pads.tolist()} touch batch/channel"
        elif len(users) != 1 or users[0].op_type not in ("Conv", "MaxPool"):
            why = f"consumers {[u.op_type for u in users]}"
        elif users[0].op_type == "MaxPool":
            src = producers.get(pad.input[0])
            if src is None or src.op_type != "Relu":
                why = "MaxPool input not after Relu"
        if why is None:
            user = users[0]
            uattrs = {a.name: helper.get_attribute_value(a) for a in user.attribute}
            auto = uattrs.get("auto_pad", b"NOTSET")
            if auto not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
                why = f"consumer auto_pad {auto!r}"
        if why is not None:
            left.append(f"{pad.name}: {why}")
            continue
        old = list(uattrs.get("pads", [0, 0, 0, 0]))
        new = [old[0] + int(pads[2]), old[1] + int(pads[3]), old[2] + int(pads[6]), old[3] + int(pads[7])]
        keep = [a for a in user.attribute if a.name not in ("pads", "auto_pad")]
        del user.attribute[:]
        user.attribute.extend([*keep, helper.make_attribute("pads", new)])
        user.input[0] = pad.input[0]
        graph.node.remove(pad)
        folded += 1
    return folded, left
