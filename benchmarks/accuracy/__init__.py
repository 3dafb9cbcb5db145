"""Accuracy runs on the shared CIFAR-10 material (``../shared`` or $PATTERNLITE_SHARED).

Research, not the speed suite: they need TensorFlow and the shared folder, and
produced the README's accuracy tables and the measurements behind the
converter's defaults.

    python -m benchmarks.accuracy.run                 # both stages: the README's accuracy table
    python -m benchmarks.accuracy.mobilenet_cifar     # train the MobileNetV2-style CIFAR model
    python -m benchmarks.accuracy.datafree_synthesis  # fixed synthetic set against a growing pool
    python -m benchmarks.accuracy.pattern_library     # accuracy (and speed) against library size
"""
