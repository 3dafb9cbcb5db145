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
}
DENSE_PEERS = list(PEERS)
