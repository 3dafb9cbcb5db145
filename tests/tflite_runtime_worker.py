"""Runs inside the tflite-runtime 2.14 venv (numpy<2): model + delegate -> output.

argv: model.tflite input.npy output.npy options-json. Prints one JSON line:
the delegate stats and the runtime's version.
"""

import json
import sys

import numpy as np
import tflite_runtime
from tflite_runtime.interpreter import Interpreter

import patternlite

model, x_path, out_path, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
threads = int(options.pop("interpreter_threads", 1))
delegate = patternlite.load_delegate(**options)
interp = Interpreter(model_path=model, experimental_delegates=[delegate], num_threads=threads)
x = np.load(x_path)
idx = interp.get_input_details()[0]["index"]
interp.resize_tensor_input(idx, list(x.shape))
interp.allocate_tensors()
interp.set_tensor(idx, x)
interp.invoke()
np.save(out_path, interp.get_tensor(interp.get_output_details()[0]["index"]))
details = [
    {"index": d["index"], "name": d["name"], "shape": [int(v) for v in d["shape"]]} for d in interp.get_tensor_details()
]
print(
    json.dumps(
        {
            "version": tflite_runtime.__version__,
            "stats": delegate.stats(),
            "tensors": details,
            "delegated": sum(1 for op in interp._get_ops_details() if op["op_name"] == "DELEGATE"),
        }
    )
)
