"""Per-pixel semantics for the colour path: DeepLabV3 on a MobileNetV2 backbone (Chen et al.
2017; Sandler et al. 2018) for the 21 PASCAL VOC classes, rebuilt in Keras and read from
Google's float TFLite release (deeplabv3_257_mv_gpu.tflite).

The network, as that file holds it:

    grey sRGB in [-1, 1] (the same input the MobileNetV2 trunk sees)
      -> Conv 3x3 s2 (16) -> 17 inverted residual blocks at width 0.5, output stride 8:
         the blocks that would stride to S/16 and S/32 keep S/8 and dilate instead
         (rate 2 from expanded_conv_7, rate 4 from expanded_conv_14)
      -> ASPP: aspp0 (1x1, 256) beside image_pooling (global mean, 1x1, 256, broadcast)
      -> concat_projection (1x1, 256)  "features": what each pixel is, at S/8
      -> logits/semantic (1x1, 21)     "logits": the 21 class scores per pixel, at S/8

Batch normalisation is folded into the convolutions in the file, so every convolution here
has a bias and no normalisation follows it. The file bilinearly resizes the logits to the
input size at the end; the colorizer takes them at S/8 and skips that.

`read_deeplab_v3_tflite(path)` returns the float weights keyed by layer name and
`apply_deeplab_v3(model, weights)` sets them; both check every shape. Only NumPy and LiteRT's
interpreter are needed to read a file (no TensorFlow graph is built).
"""

import keras
import numpy as np
from keras import layers

from colorization.model.imagenet_weights import PretrainedError, weight_interpreter

PREFIX = "deeplab_"
NUM_CLASSES = 21
FEATURE_CHANNELS = 256
OUTPUT_STRIDE = 8

# (expansion, output channels at width 0.5, stride, dilation) of expanded_conv .. _16.
_BLOCKS = (
    (1, 8, 1, 1),
    (6, 12, 2, 1),
    (6, 12, 1, 1),
    (6, 16, 2, 1),
    (6, 16, 1, 1),
    (6, 16, 1, 1),
    (6, 32, 1, 1),  # strides to S/16 in the classifier; kept at S/8
    (6, 32, 1, 2),
    (6, 32, 1, 2),
    (6, 32, 1, 2),
    (6, 48, 1, 2),
    (6, 48, 1, 2),
    (6, 48, 1, 2),
    (6, 80, 1, 2),  # strides to S/32 in the classifier; kept at S/8
    (6, 80, 1, 4),
    (6, 80, 1, 4),
    (6, 160, 1, 4),
)
_STEM_FILTERS = 16
_HEAD = ("image_pooling", "aspp0", "concat_projection", "logits_semantic")


class DeepLabError(PretrainedError):
    """A DeepLabV3 weight file that cannot be used, with what was expected."""


def _block_name(index):
    return "expanded_conv" if index == 0 else f"expanded_conv_{index}"


def conv_layer_names():
    """The 55 convolution names in the order the network runs them (backbone, then ASPP)."""
    names = ["Conv"]
    for index, (expansion, _, _, _) in enumerate(_BLOCKS):
        block = _block_name(index)
        if expansion != 1:
            names.append(f"{block}_expand")
        names += [f"{block}_depthwise", f"{block}_project"]
    return names + list(_HEAD)


def deeplab_v3(grey_rgb, trainable=False):
    """DeepLabV3-MobileNetV2 on a grey sRGB tensor (batch, S, S, 3) in [-1, 1].

    Returns {"features": (batch, S/8, S/8, 256), "logits": (batch, S/8, S/8, 21)}. Every
    layer is named PREFIX + the file's name ("deeplab_expanded_conv_3_expand", ...) and is
    frozen unless `trainable`.
    """

    def conv(x, name, filters, kernel=1, stride=1, dilation=1, activation="relu6"):
        return layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            dilation_rate=dilation,
            padding="same",
            activation=activation,
            name=PREFIX + name,
            trainable=trainable,
        )(x)

    x = conv(grey_rgb, "Conv", _STEM_FILTERS, kernel=3, stride=2)
    for index, (expansion, filters, stride, dilation) in enumerate(_BLOCKS):
        block = _block_name(index)
        inputs = x
        if expansion != 1:
            x = conv(x, f"{block}_expand", x.shape[-1] * expansion)
        x = layers.DepthwiseConv2D(
            3,
            strides=stride,
            dilation_rate=dilation,
            padding="same",
            activation="relu6",
            name=f"{PREFIX}{block}_depthwise",
            trainable=trainable,
        )(x)
        x = conv(x, f"{block}_project", filters, activation=None)
        if stride == 1 and inputs.shape[-1] == filters:
            x = layers.Add(name=f"{PREFIX}{block}_add")([x, inputs])
    backbone = x
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=PREFIX + "pool")(backbone)
    pooled = conv(pooled, "image_pooling", FEATURE_CHANNELS, activation="relu")
    height, width = backbone.shape[1], backbone.shape[2]
    pooled = layers.UpSampling2D((height, width), name=PREFIX + "image_pooling_broadcast")(pooled)
    aspp0 = conv(backbone, "aspp0", FEATURE_CHANNELS, activation="relu")
    x = layers.Concatenate(name=PREFIX + "concat")([pooled, aspp0])
    features = conv(x, "concat_projection", FEATURE_CHANNELS, activation="relu")
    logits = conv(features, "logits_semantic", NUM_CLASSES, activation=None)
    return {"features": features, "logits": logits}


def build_deeplab_v3(image_size=257):
    """DeepLabV3 alone, as a Keras model: input (batch, S, S, 3) RGB scaled to x / 127.5 - 1,
    outputs {"features", "logits"} at S/8 (ceil). For reading and checking the weights."""
    rgb = keras.Input((image_size, image_size, 3), name="rgb")
    return keras.Model(rgb, deeplab_v3(rgb, trainable=False), name="deeplab_v3")


def read_deeplab_v3_tflite(path):
    """Float weights of a DeepLabV3-MobileNetV2 TFLite file, {layer name: (kernel, bias)} in
    Keras layouts (Conv2D (h, w, in, out), DepthwiseConv2D (h, w, in, 1)).

    The 55 convolutions are taken in the order the file runs them, and the first of the two
    1x1 convolutions from 160 to 256 channels that reads a pooled tensor is image_pooling:
    files written by other converters name tensors differently, so names are not relied on.

    Raises:
      DeepLabError: the file is missing, not TFLite, or not this network.
    """
    interpreter = weight_interpreter(
        path,
        "the float DeepLabV3-MobileNetV2 file deeplabv3_257_mv_gpu.tflite",
        error=DeepLabError,
    )
    ops = interpreter._get_ops_details()
    produced_by, consumers = {}, {}
    for op in ops:
        for out in op["outputs"]:
            produced_by[int(out)] = op["op_name"]
        for i in op["inputs"]:
            consumers.setdefault(int(i), []).append(op)
    graph_inputs = {int(d["index"]) for d in interpreter.get_input_details()}

    def constant(index):
        return index >= 0 and index not in produced_by and index not in graph_inputs

    def separate_bias(out):
        """A converter writes a dilated convolution as SPACE_TO_BATCH_ND, the convolution
        without its bias, BATCH_TO_SPACE_ND, then an ADD of the bias: that bias, or 0."""
        after = consumers.get(out, [])
        if len(after) != 1 or after[0]["op_name"] != "BATCH_TO_SPACE_ND":
            return 0.0
        after = consumers.get(int(after[0]["outputs"][0]), [])
        if len(after) != 1 or after[0]["op_name"] != "ADD":
            return 0.0
        for i in (int(i) for i in after[0]["inputs"]):
            if constant(i) and len(interpreter.get_tensor(i).shape) == 1:
                return interpreter.get_tensor(i).astype(np.float32)
        return 0.0

    convs, pooled_inputs = [], []
    for op in ops:
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        inputs = [int(i) for i in op["inputs"]]
        weights = interpreter.get_tensor(inputs[1])
        if weights.dtype != np.float32:
            raise DeepLabError(
                f"{path!r} stores {weights.dtype} weights. Expected the float file "
                "(deeplabv3_257_mv_gpu.tflite), not the 8-bit one."
            )
        channels = weights.shape[0] if op["op_name"] == "CONV_2D" else weights.shape[-1]
        bias = np.zeros(channels, np.float32)
        if len(inputs) > 2 and inputs[2] >= 0:
            bias = interpreter.get_tensor(inputs[2]).astype(np.float32)
        bias = bias + separate_bias(int(op["outputs"][0]))
        if op["op_name"] == "CONV_2D":
            kernel = weights.transpose(1, 2, 3, 0)
        else:
            kernel = weights[0][..., None]
        convs.append((kernel.astype(np.float32), np.asarray(bias, np.float32)))
        pooled_inputs.append(produced_by.get(inputs[0]) in ("AVERAGE_POOL_2D", "MEAN"))
    names = conv_layer_names()
    if len(convs) != len(names):
        raise DeepLabError(
            f"{path!r} holds {len(convs)} convolutions; DeepLabV3-MobileNetV2 (width 0.5) has "
            f"{len(names)}. Expected deeplabv3_257_mv_gpu.tflite."
        )
    backbone = len(names) - len(_HEAD)
    head = list(range(backbone, len(convs)))
    pooling = [i for i in head if pooled_inputs[i]]
    if len(pooling) != 1:
        raise DeepLabError(
            f"{path!r}: expected one ASPP convolution on a pooled tensor, found {len(pooling)}."
        )
    rest = [i for i in head if i != pooling[0]]
    order = list(range(backbone)) + pooling + rest
    return {name: convs[i] for name, i in zip(names, order, strict=True)}


# The class-score convolution: a colorizer whose prior passes on DeepLab's features alone
# (ModelConfig.semantic_input="features") does not hold it.
CLASS_SCORES_LAYER = "logits_semantic"


def apply_deeplab_v3(model, weights):
    """Sets every PREFIX-named convolution of `model` from `read_deeplab_v3_tflite` output;
    returns the layer names set. Raises DeepLabError on a missing layer (but the class
    scores', in a model that does not use them) or a shape mismatch."""
    loaded = []
    # A layer the model's outputs do not depend on is not in a functional model at all.
    names = {layer.name for layer in model.layers}
    for name, (kernel, bias) in weights.items():
        if name == CLASS_SCORES_LAYER and PREFIX + name not in names:
            continue
        try:
            layer = model.get_layer(PREFIX + name)
        except ValueError as e:
            raise DeepLabError(f"the model has no layer {PREFIX + name!r}.") from e
        expected = tuple(layer.kernel.shape)
        if kernel.shape != expected or bias.shape != tuple(layer.bias.shape):
            raise DeepLabError(
                f"layer {layer.name}: kernel {expected} in the model, {kernel.shape} in the "
                "file. Expected DeepLabV3 on MobileNetV2 at width 0.5."
            )
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)
        loaded.append(layer.name)
    return loaded


def load_deeplab_v3(model, path, weights=None):
    """Sets `model`'s PREFIX layers from the DeepLabV3 file at `path` (`weights`: what
    read_deeplab_v3_tflite(path) returned, if read already); prints what it set."""
    if weights is None:
        weights = read_deeplab_v3_tflite(path)
    loaded = apply_deeplab_v3(model, weights)
    print(f"DeepLabV3 semantic prior from {path}: {len(loaded)} convolutions set (frozen).")
    return loaded
