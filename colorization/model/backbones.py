"""Shared trunks of the colorizer: the paper's VGG-style trunk lives in model.py; this module
holds the MobileNetV2 trunk (Sandler et al. 2018) and the layer that feeds it a grey photo.

MobileNetV2 was trained on sRGB photos scaled to [-1, 1]. A grey photo is the sRGB colour
(g, g, g) whose CIELAB lightness is L, so the trunk sees exactly what an ImageNet network
sees when it is shown a black-and-white print: g = sRGB-gamma(Y(L)), replicated on three
channels. Only `keras.layers` and `keras.ops` are used (any Keras backend).

Feature maps taken from `keras.applications.MobileNetV2` (names of its layers), at S = 224:

    block_2_add            S/4    24 ch   skip into conv8
    block_5_add            S/8    32 ch   skip into conv7
    block_13_expand_relu   S/16  576 ch   "conv5": the colour path starts here
    out_relu               S/32 1280 ch   the class branch pools this (the paper's
                                          "downsample conv5 by 2")
"""

import keras
from keras import layers

MOBILENET_TAPS = {
    "s4": "block_2_add",
    "s8": "block_5_add",
    "s16": "block_13_expand_relu",
    "s32": "out_relu",
}
# Epsilon of every batch normalisation in keras.applications.MobileNetV2.
MOBILENET_BN_EPSILON = 1e-3


@keras.saving.register_keras_serializable(package="colorization")
class LightnessToGreyRGB(layers.Layer):
    """L (..., 1) in [0, 100] -> the grey sRGB photo with that lightness, (..., 3) in [-1, 1].

    Inverse CIELAB lightness (D65, Y_n = 1) then the sRGB transfer curve, both exact, so a
    grey photo reaches the trunk as the same pixels an ImageNet network would have seen.
    """

    def call(self, lightness):
        ops = keras.ops
        lightness = ops.cast(lightness, "float32")
        fy = (lightness + 16.0) / 116.0
        # Y = fy^3 above L = 8, else L / kappa (kappa = 24389 / 27).
        y = ops.where(lightness > 8.0, fy * fy * fy, lightness * (27.0 / 24389.0))
        y = ops.clip(y, 0.0, 1.0)
        srgb = ops.where(
            y > 0.0031308,
            1.055 * ops.power(ops.maximum(y, 0.0031308), 1.0 / 2.4) - 0.055,
            12.92 * y,
        )
        grey = srgb * 2.0 - 1.0
        return ops.cast(ops.concatenate([grey, grey, grey], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


def mobilenet_v2_features(lightness, trainable=True):
    """MobileNetV2 (width 1.0, no top) on L; returns {tap name: feature tensor}, and the
    grey sRGB photo it reads as "grey".

    Args:
      lightness: the model's "L" input tensor (batch, S, S, 1), L in [0, 100].
      trainable: False freezes every trunk layer. Batch normalisation always runs in
        inference mode: ImageNet weights arrive with batch norm folded into the
        convolutions, and batch statistics of a few colour crops would undo that.
    """
    grey = LightnessToGreyRGB(name="grey_rgb")(lightness)
    base = keras.applications.MobileNetV2(
        input_tensor=grey, include_top=False, weights=None, alpha=1.0
    )
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
        elif not trainable:
            layer.trainable = False
    taps = {key: base.get_layer(name).output for key, name in MOBILENET_TAPS.items()}
    return {**taps, "grey": grey}


def mobilenet_conv_layers(model):
    """The 52 convolution layers of the MobileNetV2 trunk in `model`, in network order."""
    return [
        layer
        for layer in model.layers
        if isinstance(layer, layers.Conv2D | layers.DepthwiseConv2D)
        and (
            layer.name in ("Conv1", "Conv_1") or layer.name.startswith(("expanded_conv_", "block_"))
        )
    ]


def mobilenet_batch_norm_of(model, conv_name):
    """The batch normalisation that follows MobileNetV2's convolution `conv_name`."""
    names = {"Conv1": "bn_Conv1", "Conv_1": "Conv_1_bn"}
    return model.get_layer(names.get(conv_name, f"{conv_name}_BN"))
