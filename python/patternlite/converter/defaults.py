"""Default settings of ``prune``, shared by the Python API and the CLI (no TensorFlow import here).

Each default is a measured choice; ``benchmarks/accuracy_variants.py`` reproduces the
numbers quoted in docs/converter.md.
"""

from __future__ import annotations

from patternlite._contract import KINDS

# How a 3x3 conv's kept kernels may be chosen (solvers/projection.py): "kernel"
# ranks each kernel on its own; "block" keeps the same input channels for the
# filters of a block of CHANNEL_BLOCK; "shared" also gives them one pattern per
# kept input channel.
CONNECTIVITIES: tuple[str, ...] = ("kernel", "block", "shared")

# Layer kinds ``prune`` touches unless told otherwise: all three (graph.ALL_KINDS).
LAYERS: tuple[str, ...] = tuple(KINDS)
# Keep of depthwise layers unless asked (``kind_keep``, CLI ``--keep-depthwise``):
# patterns only. A depthwise channel is a whole feature map with a single filter,
# so pruning one removes that map from everything downstream, and there is little
# to gain: keras.applications' MobileNetV2 at 224x224 spends 20.7M of its 299.5M
# conv multiply-accumulates (7%) in depthwise layers, 268M in 1x1 convs.
DEPTHWISE_KEEP = 1.0

SAMPLES = 512  # synthetic images generated (BatchNorm-matched); see docs/converter.md for 128-1024
SYNTHETIC_STEPS = 200  # Adam steps per batch of synthetic images
ITERATIONS = 30  # ADMM iterations per layer
# Augmented copies of the synthetic images added to each layer's least-squares
# problem (shifts, flips, mixing). ResNet-20 keep 0.5 on one synthetic pool:
# 76.4% without, 80.4% with; on another pool no gain (77.2%).
AUGMENT_COPIES = 3
# End-to-end distillation steps after the layer-wise pass. ResNet-20 keep 0.5:
# 77.2% layer-wise, 78.4% after 1000 steps, 81.2% after 2000.
DISTILL_STEPS = 2000
# Half of every distillation batch is nudged one signed-gradient step (this
# fraction of the synthetic pool's standard deviation) towards where student
# and teacher disagree most. ResNet-20 keep 1.0: 89.6% -> 90.8% (all 4500 JPEG
# dev images: 78.0% -> 79.2%), for about 1.5x the distillation time.
DISTILL_ADVERSARIAL = 0.1

# How distillation gets its images: "fixed" (the set synthesised up front) or
# "growing" (that set plus adversarial rounds during distillation, CMI-style;
# synthesis/pool_growth.py), compared at equal wall time by
# benchmarks/datafree_synthesis.py.
SYNTHESIS = "fixed"
SYNTHESIS_KINDS = ("fixed", "growing")

# Presets of ``prune``: the time budget (minutes) and the sizes it trades. The
# budget bounds BatchNorm synthesis (at most SYNTHESIS_SHARE of it: fewer
# images if the time runs short) and end-to-end distillation (whatever time the
# layer-wise stage leaves, its steps capped by ``distill_steps``); the
# layer-wise stage itself runs to the end, so a budget far too small for the
# model overruns by that stage's time. Explicit arguments override a preset.
PRESETS: dict[str, dict[str, float]] = {
    # ResNet-20 here: about 5 minutes.
    "fast": {"budget": 5.0, "samples": 256, "synthetic_steps": 100},
    # The settings every accuracy figure before presets existed was measured with, bounded.
    "standard": {"budget": 20.0, "samples": SAMPLES, "synthetic_steps": SYNTHETIC_STEPS},
}
PRESET = "standard"
SYNTHESIS_SHARE = 0.3

# int8 export: images that calibrate the activation ranges. Without data they are
# BatchNorm-matched synthetic images (``prune`` reuses its own pool). 200 covers
# the range estimate with room to spare: TFLite keeps a running min/max per tensor,
# which settles after a few batches' worth of images.
CALIBRATION_IMAGES = 200

# ``prune(..., data=...)`` / ``prune --data``: the client's own images replace the
# synthetic ones. The layer-wise solve sees at most this many of them (plus
# AUGMENT_COPIES augmented copies): its least-squares problems subsample patch
# rows anyway, and each layer's forward passes scale with the pool. The client-
# stage retraining that replaces distillation then sees all of them.
DATA_LAYERWISE_IMAGES = 1024
# The whole run's budget with data, unless given (minutes): the layer-wise pass,
# then retraining for the rest, as ``finetune``'s default.
DATA_BUDGET = 10.0
