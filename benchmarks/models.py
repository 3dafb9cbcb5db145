"""Keras builders for the benchmark models (random weights; the structure is what is timed).

ImageNet-shaped VGG-16, ResNet-50 and MobileNetV2 (1.0, 224) come from keras.applications with ``weights=None``;
ResNet-18 and the CIFAR ResNet-20/56 are not in keras.applications and are built here
following He et al. 2016 (basic blocks; CIFAR variant with 16/32/64 channels and an
identity-with-1x1-projection shortcut).  Every model ends in logits (no softmax) so the
agreement checks compare numbers that are not squashed towards 1/classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Bump when a builder changes so cached .tflite/.onnx/... files are rebuilt.
BUILDER_VERSION = "3"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_shape: tuple[int, int, int]  # HWC, batch 1 is added by the harness
    build: Callable[[], Any]


def _keras() -> Any:
    import keras  # local import: the worker venvs import this module's siblings without keras

    return keras


def _input(shape: tuple[int, int, int]) -> Any:
    """Batch fixed to 1, the benchmarked batch: with Keras' dynamic batch, VGG's Flatten becomes
    a Shape/Pack/Reshape chain, and a graph with dynamic-sized tensors is rejected by delegates
    that need static shapes (ours included) and handled worse by the peers' converters."""
    return _keras().Input(shape, batch_size=1)


def vgg16() -> Any:
    keras = _keras()
    return keras.applications.VGG16(weights=None, input_tensor=_input((224, 224, 3)), classifier_activation=None)


def resnet50() -> Any:
    keras = _keras()
    return keras.applications.ResNet50(weights=None, input_tensor=_input((224, 224, 3)), classifier_activation=None)


def mobilenetv2() -> Any:
    keras = _keras()
    return keras.applications.MobileNetV2(
        weights=None, input_tensor=_input((224, 224, 3)), classifier_activation=None
    )


def _basic_block(x: Any, filters: int, stride: int, name: str) -> Any:
    layers = _keras().layers
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet18() -> Any:
    keras = _keras()
    layers = keras.layers
    inp = _input((224, 224, 3))
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="conv1")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, stride, f"s{stage}b{block}")
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(1000, name="fc")(x)
    return keras.Model(inp, out, name="resnet18")


def _cifar_resnet(depth: int) -> Any:
    keras = _keras()
    layers = keras.layers
    n = (depth - 2) // 6
    inp = _input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, stride, f"s{stage}b{block}")
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(10, name="fc")(x)
    return keras.Model(inp, out, name=f"resnet{depth}")


def resnet20() -> Any:
    return _cifar_resnet(20)


def resnet56() -> Any:
    return _cifar_resnet(56)


def tiny() -> Any:
    """A few-millisecond CNN for the harness test: two prunable 3x3 convs, one stride-2."""
    keras = _keras()
    layers = keras.layers
    inp = _input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c3")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(10, name="fc")(x)
    return keras.Model(inp, out, name="tiny")


MODELS: dict[str, ModelSpec] = {
    "vgg16": ModelSpec("vgg16", (224, 224, 3), vgg16),
    "resnet18": ModelSpec("resnet18", (224, 224, 3), resnet18),
    "resnet50": ModelSpec("resnet50", (224, 224, 3), resnet50),
    "mobilenetv2": ModelSpec("mobilenetv2", (224, 224, 3), mobilenetv2),
    "resnet20": ModelSpec("resnet20", (32, 32, 3), resnet20),
    "resnet56": ModelSpec("resnet56", (32, 32, 3), resnet56),
    "tiny": ModelSpec("tiny", (16, 16, 3), tiny),
}

ALL_MODELS = ["vgg16", "resnet18", "resnet50", "mobilenetv2", "resnet20", "resnet56"]


def conv3x3_layers(model: Any) -> list[dict[str, Any]]:
    """Every 3x3 Conv2D of a built Keras model with the shapes a single-op model needs."""
    layers = _keras().layers
    out = []
    for layer in model.layers:
        if not isinstance(layer, layers.Conv2D) or tuple(layer.kernel_size) != (3, 3):
            continue
        in_shape = layer.input.shape  # (None, H, W, C)
        out_shape = layer.output.shape
        out.append(
            {
                "layer": layer.name,
                "h": int(in_shape[1]),
                "w": int(in_shape[2]),
                "cin": int(in_shape[3]),
                "cout": int(layer.filters),
                "stride": int(layer.strides[0]),
                "padding": str(layer.padding),
                "ho": int(out_shape[1]),
                "wo": int(out_shape[2]),
            }
        )
    return out
