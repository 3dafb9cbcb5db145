"""One module per engine.  Each defines ``Peer``, a subclass of :class:`benchmarks.peers.base.Peer`."""

# name -> (module, venv it runs in; None = the harness's own interpreter)
PEERS: dict[str, tuple[str, str | None]] = {
    "tflite_xnnpack": ("benchmarks.peers.tflite_xnnpack", None),
    "onnxruntime": ("benchmarks.peers.onnxruntime_peer", "onnx"),
    "mnn": ("benchmarks.peers.mnn_peer", "mnn"),
    "ncnn": ("benchmarks.peers.ncnn_peer", "ncnn"),
    "tvm_untuned": ("benchmarks.peers.tvm_peer", "tvm"),
}
DENSE_PEERS = list(PEERS)
