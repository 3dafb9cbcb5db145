"""Test helpers: small multi-op .tflite graphs (CONV_2D, ADD) built as flatbuffers.

A residual block is two convs and an ADD of the block's input; these graphs
let the tests check which ops the delegate claims between its convs, and
compare the whole graph against TFLite's builtin kernels on the same file.
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
import numpy.typing as npt

from patternlite.tflite_file import _schema

from conv_models import ACTIVATIONS, out_size
from runtimes import make_interpreter


class GraphBuilder:
    """Appends tensors and ops; `build` writes the model. Tensor handles are indices."""

    def __init__(self) -> None:
        self.s = _schema()
        self.buffers = [self.s.BufferT()]
        self.tensors: list[Any] = []
        self.shapes: list[tuple[int, ...]] = []
        self.ops: list[Any] = []
        self.codes: list[int] = []
        self.inputs: list[int] = []

    def _buffer(self, array: npt.NDArray[Any] | None) -> int:
        b = self.s.BufferT()
        if array is not None:
            b.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8).copy()
        self.buffers.append(b)
        return len(self.buffers) - 1

    def tensor(
        self,
        name: str,
        shape: tuple[int, ...],
        data: npt.NDArray[Any] | None = None,
        *,
        int8: tuple[float, int] | None = None,
        per_channel: npt.NDArray[np.float32] | None = None,
        ttype: int | None = None,
    ) -> int:
        """A float32 tensor (an int8 one with `int8` = (scale, zero point)).

        `per_channel`: symmetric scales along dimension 0 (an int8 filter, or
        with `ttype` INT32 a bias)."""
        t = self.s.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = self.s.TensorType.INT8 if int8 or per_channel is not None else self.s.TensorType.FLOAT32
        if ttype is not None:
            t.type = ttype
        t.buffer = self._buffer(data)
        if int8 or per_channel is not None:
            qp = self.s.QuantizationParametersT()
            if per_channel is not None:
                qp.scale, qp.zeroPoint = [float(v) for v in per_channel], [0] * len(per_channel)
            else:
                assert int8 is not None
                qp.scale, qp.zeroPoint = [int8[0]], [int8[1]]
            t.quantization = qp
        self.tensors.append(t)
        self.shapes.append(tuple(shape))
        return len(self.tensors) - 1

    def input(self, shape: tuple[int, ...], *, int8: tuple[float, int] | None = None) -> int:
        idx = self.tensor(f"input{len(self.inputs)}", shape, int8=int8)
        self.inputs.append(idx)
        return idx

    def _op(self, code: int, inputs: list[int], outputs: list[int], options_type: int, options: Any) -> None:
        if code not in self.codes:
            self.codes.append(code)
        op = self.s.OperatorT()
        op.opcodeIndex = self.codes.index(code)
        op.inputs, op.outputs = inputs, outputs
        op.builtinOptionsType, op.builtinOptions = options_type, options
        self.ops.append(op)

    def conv(
        self, x: int, filters: npt.NDArray[np.float32], *, stride: int = 1, activation: str = "NONE", name: str = ""
    ) -> int:
        """CONV_2D (SAME padding, OHWI `filters`, a random bias) of float tensor `x`."""
        name = name or f"conv{len(self.ops)}"
        n, h, w, _ = self.shapes[x]
        o, kh, kw, _ = filters.shape
        bias = np.linspace(-0.5, 0.5, o, dtype=np.float32)
        f = self.tensor(f"{name}/filter", filters.shape, filters.astype(np.float32))
        b = self.tensor(f"{name}/bias", bias.shape, bias)
        y = self.tensor(f"{name}/out", (n, out_size(h, stride, "SAME", kh), out_size(w, stride, "SAME", kw), o))
        opts = self.s.Conv2DOptionsT()
        opts.padding = self.s.Padding.SAME
        opts.strideH = opts.strideW = stride
        opts.dilationHFactor = opts.dilationWFactor = 1
        opts.fusedActivationFunction = ACTIVATIONS[activation]
        self._op(self.s.BuiltinOperator.CONV_2D, [x, f, b], [y], self.s.BuiltinOptions.Conv2DOptions, opts)
        return y

    def conv_int8(
        self,
        x: int,
        filters_q: npt.NDArray[np.int8],
        filter_scales: npt.NDArray[np.float32],
        out: tuple[float, int],
        *,
        activation: str = "NONE",
        name: str = "",
    ) -> int:
        """An int8 CONV_2D (SAME, stride 1, OHWI `filters_q` with per-channel scales, a small
        int32 bias) of int8 tensor `x`, its output quantized as `out` = (scale, zero point)."""
        name = name or f"conv{len(self.ops)}"
        n, h, w, _ = self.shapes[x]
        o, kh, kw, _ = filters_q.shape
        in_scale = self.tensors[x].quantization.scale[0]
        bias_scales = (np.float32(in_scale) * filter_scales).astype(np.float32)
        bias = np.arange(-(o // 2), o - o // 2, dtype=np.int32) * 7
        f = self.tensor(f"{name}/filter", filters_q.shape, filters_q, per_channel=filter_scales)
        b = self.tensor(f"{name}/bias", (o,), bias, per_channel=bias_scales, ttype=self.s.TensorType.INT32)
        y = self.tensor(f"{name}/out", (n, out_size(h, 1, "SAME", kh), out_size(w, 1, "SAME", kw), o), int8=out)
        opts = self.s.Conv2DOptionsT()
        opts.padding = self.s.Padding.SAME
        opts.strideH = opts.strideW = 1
        opts.dilationHFactor = opts.dilationWFactor = 1
        opts.fusedActivationFunction = ACTIVATIONS[activation]
        self._op(self.s.BuiltinOperator.CONV_2D, [x, f, b], [y], self.s.BuiltinOptions.Conv2DOptions, opts)
        return y

    def add(
        self,
        a: int,
        b: int,
        *,
        activation: str = "NONE",
        shape: tuple[int, ...] | None = None,
        int8: tuple[float, int] | None = None,
    ) -> int:
        """ADD of two tensors; `shape` defaults to `a`'s (give it when `b` broadcasts)."""
        y = self.tensor(f"add{len(self.ops)}/out", shape or self.shapes[a], int8=int8)
        opts = self.s.AddOptionsT()
        opts.fusedActivationFunction = ACTIVATIONS[activation]
        self._op(self.s.BuiltinOperator.ADD, [a, b], [y], self.s.BuiltinOptions.AddOptions, opts)
        return y

    def build(self, outputs: list[int]) -> bytes:
        s = self.s
        sg = s.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators = self.tensors, self.inputs, outputs, self.ops
        sg.name = "main"
        codes = []
        for code in self.codes:
            c = s.OperatorCodeT()
            c.builtinCode = c.deprecatedBuiltinCode = code
            c.version = 1
            codes.append(c)
        model = s.ModelT()
        model.version = 3
        model.operatorCodes = codes
        model.subgraphs = [sg]
        model.description = "patternlite test graph"
        model.buffers = self.buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def execution_plan_ops(interp: Any) -> list[str]:
    """The op names of the interpreter's execution plan, in node order.

    `_get_ops_details` lists every node, the ones a delegate replaced too; a
    delegate node replaced the nodes between its input and output tensors,
    found here by walking back from its outputs to its inputs.
    """
    ops = interp._get_ops_details()
    producer = {int(t): op for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    replaced: set[int] = set()
    for d in (op for op in ops if op["op_name"] == "DELEGATE"):
        inputs = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        while stack:
            t = stack.pop()
            p = producer.get(t)
            if t in inputs or p is None or p["index"] in replaced:
                continue
            replaced.add(p["index"])
            stack.extend(int(i) for i in p["inputs"])
    return [op["op_name"] for op in ops if op["index"] not in replaced]


def builtin_add(
    a: npt.NDArray[Any],
    b: npt.NDArray[Any],
    *,
    activation: str = "NONE",
    quant: tuple[tuple[float, int], tuple[float, int], tuple[float, int]] | None = None,
) -> npt.NDArray[Any]:
    """TFLite's builtin ADD of `a` and `b` (no XNNPACK): float32, or int8 with `quant` = the
    (scale, zero point) of input 1, input 2 and the output."""
    qa, qb, qz = quant if quant is not None else (None, None, None)
    g = GraphBuilder()
    model = g.build([g.add(g.input(a.shape, int8=qa), g.input(b.shape, int8=qb), int8=qz, activation=activation)])
    interp = make_interpreter(model, reference=True)
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), (a, b), strict=True):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    return np.array(interp.get_tensor(interp.get_output_details()[0]["index"]))
