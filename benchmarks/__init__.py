"""Side-by-side benchmark suite: patternlite against dense TFLite/XNNPACK, ONNX Runtime, MNN, ncnn, TVM.

Entry point: ``python -m benchmarks.run``.  This package must stay importable with numpy
alone, because the peer workers import it from venvs that have no TensorFlow.
"""
