"""One module per engine.  Each defines ``Peer`` (or the class after ``:``), a :class:`base.Peer`."""

# name -> (module, venv it runs in; None = the harness's own interpreter)
PEERS: dict[str, tuple[str, str | None]] = {
    "tflite_xnnpack": ("benchmarks.peers.tflite_xnnpack", None),
    "onnxruntime": ("benchmarks.peers.onnxruntime_peer", "onnx"),
    "mnn": ("benchmarks.peers.mnn_peer", "mnn"),
    "ncnn": ("benchmarks.peers.ncnn_peer", "ncnn"),
    "tvm_untuned": ("benchmarks.peers.tvm_peer", "tvm"),
    # Only runs for models named in --tvm-tune; elsewhere reported as skipped.
    "tvm_tuned": ("benchmarks.peers.tvm_peer:TunedPeer", "tvm"),
    "deepsparse": ("benchmarks.peers.deepsparse_peer", "deepsparse"),
}
DENSE_PEERS = list(PEERS)

# Peers that run the pattern-pruned .tflite at each keep, like patternlite (which runs in
# process and is not listed): the comparison on the very same pruned model.
PRUNED_PEERS: dict[str, tuple[str, str | None]] = {
    "deepsparse_pruned": ("benchmarks.peers.deepsparse_peer:PrunedPeer", "deepsparse"),
}

# The int8 dimension (``--dtypes int8``): engines that run a full-integer int8 model, and how.
# tflite_xnnpack and patternlite run the converter's int8 .tflite files (dense, and pruned at
# each keep) in process; onnxruntime quantises the fp32 ONNX file itself (quantize_static,
# QDQ) on the same calibration images, and deepsparse compiles that quantised file.  Every
# other engine has no int8 path here and is reported as skipped.
INT8_PEERS: dict[str, tuple[str, str | None]] = {
    "tflite_xnnpack": ("benchmarks.peers.tflite_xnnpack", None),
    "onnxruntime": ("benchmarks.peers.onnxruntime_peer:Int8Peer", "onnx"),
    "deepsparse": ("benchmarks.peers.deepsparse_peer:Int8Peer", "deepsparse"),
}
