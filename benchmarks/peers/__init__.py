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
