"""The instance-aware colorization network (Li, Zeng, Xiao, Wang), a Keras functional model.

    L (S x S x 1, in [0, 100])
      -> conv1 (S/2) -> conv2 (S/4) -> conv3 (S/8) -> conv4 -> conv5 (dilation 2)   shared trunk
      ├─ class branch: stride-2 conv (S/16) -> global average pool -> fc1 -> fc2 -> fc3
      │                -> class_logits (num_classes)
      └─ colour path:  concat(conv5, fc3 tiled over S/8 x S/8) -> 1x1 fusion conv
                       -> conv6 (dilation 2) -> conv7 -> conv8 (x2 upsampling, S/4)
                       -> conv9 1x1 -> color_logits (S/4 x S/4 x 313)

The trunk and colour path follow Zhang et al. 2016 (blocks of 3x3 convolutions with ReLU,
batch normalisation at the end of each block, stride 2 at the end of conv1-conv3). The class
branch downsamples conv5 by 2 as in the paper, then pools globally before fc1 so that the
branch has the same weights at every image size; the paper's fc1-fc3 follow.

With `backbone="mobilenet_v2"` the trunk is ImageNet MobileNetV2 (colorization.model.backbones)
and the same design follows it:

    L -> grey sRGB -> MobileNetV2 ─┬─ class branch: out_relu (S/32, the "downsample by 2" of
                                   │   S/16) -> global average pool -> fc1 -> fc2 -> fc3
                                   │   -> class_logits
                                   └─ colour path: concat(block_13_expand_relu (S/16),
                                       fc3 tiled) -> 1x1 fusion conv -> conv6 (S/16)
                                       -> x2, concat block_5_add -> conv7 (S/8)
                                       -> x2, concat block_2_add -> conv8 (S/4)
                                       -> conv9 1x1 -> color_logits (S/4 x S/4 x 313)

With `semantic_prior`, a frozen DeepLabV3-MobileNetV2 (colorization.model.deeplab) reads the
same grey photo: its per-pixel features and 21 PASCAL VOC class scores at S/8 (either alone
with `semantic_input`) are projected to 64 channels ("semantic_proj") and concatenated into the skips of conv7 (S/8) and,
upsampled, conv8 (S/4) — a class for every pixel beside the class branch's one per photo.

The stride-16 features carry the semantics, the stride-8 and stride-4 skips carry the
edges that colour boundaries follow, so the head needs no dilation at S/8.

Two variants of the fusion, for the study of how the class should reach the colours:
`fusion_input="probs"` fuses the class probabilities instead of fc3, and
`fusion_mode="film"` replaces the concatenation by a per-channel scale and shift of the
fusion conv's output (and, on MobileNetV2, of conv7's) computed from the fused vector
(`FiLM`; the computing layers start at zero, so the modulation starts as the identity).

With `hints`, a second input carries a few points of known colour (colorization.core.hints):
pooled to S/16, S/8 and S/4 as the mean ab of the hinted pixels of each cell (so one
clicked pixel keeps its full colour at every scale) and a flag of the cells that hold one,
it is projected by a 1x1 convolution that starts at zero and added to the input of conv6,
conv7 and conv8, whose 3x3 convolutions spread it, and to the colour logits at S/4 (a
direct path from a cell's hint to its colours). The trunk never sees it.

Only `keras.layers` and `keras.ops` are used, so the model trains under any Keras backend.
"""

import contextlib

import keras
import numpy as np
from keras import layers

from colorization.core import gamut
from colorization.core.config import HINT_CHANNELS, NUM_BINS, ModelConfig
from colorization.model import backbones, deeplab

# Hint maps' ab is divided by this before the network sees it (ab spans about +-110).
_HINT_AB_SCALE = 110.0
# The width (in ab units) of the Gaussian the direct hint path starts as.
HINT_SIGMA = 10.0
# The factor on the hint projections added to the colour path's blocks.
HINT_GAIN = 10.0

# (name, filters at width 1.0, convolutions, dilation, stride of the last convolution).
_TRUNK_BLOCKS = (
    ("conv1", 64, 2, 1, 2),
    ("conv2", 128, 2, 1, 2),
    ("conv3", 256, 3, 1, 2),
    ("conv4", 512, 3, 1, 1),
    ("conv5", 512, 3, 2, 1),
)
_HEAD_BLOCKS = (
    ("conv6", 512, 3, 2, 1),
    ("conv7", 512, 3, 1, 1),
)
_CONV8_FILTERS = 256


def scaled_width(filters, width_multiplier):
    """Channel count after the width multiplier, rounded to a multiple of 8 (at least 8)."""
    return max(8, int(round(filters * width_multiplier / 8.0)) * 8)


def _batch_norm(name, config):
    return layers.BatchNormalization(
        name=name, dtype=config.dtype_policy, synchronized=config.sync_batch_norm
    )


@keras.saving.register_keras_serializable(package="colorization")
class HintPooling(layers.Layer):
    """A hint map (batch, S, S, 3: a, b, mask) pooled by `factor`: per cell, the mean ab of
    its hinted pixels scaled by 1/110 (about [-1, 1]) and 1 where the cell holds a hint.
    Averaging ab over the whole cell instead would shrink a one-pixel hint by factor² (256
    at S/16); cells without a hint stay exactly zero."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, hints):
        hints = keras.ops.cast(hints, self.compute_dtype)
        mask = hints[..., 2:]
        ab = hints[..., :2] * mask / _HINT_AB_SCALE
        pool = self.factor
        share = keras.ops.average_pool(mask, pool, pool, "valid")
        mean_ab = keras.ops.average_pool(ab, pool, pool, "valid") / keras.ops.maximum(share, 1e-6)
        present = keras.ops.cast(share > 0, self.compute_dtype)
        return keras.ops.concatenate([mean_ab, present], axis=-1)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        pooled = [None if d is None else d // self.factor for d in (height, width)]
        return (batch, *pooled, channels)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _hint_pyramid(hints, config, strides):
    """{stride: the hint map pooled to S/stride} for the strides the colour path has
    features at (HintPooling)."""
    if hints is None:
        return None
    dtype = config.dtype_policy
    return {
        stride: HintPooling(stride, name=f"hints_s{stride}", dtype=dtype)(hints)
        for stride in strides
    }


def direct_hint_kernel(num_bins=NUM_BINS, sigma=HINT_SIGMA):
    """The starting kernel (1, 1, 3, num_bins) of the direct hint path: for a cell whose
    pooled hint is (a/110, b/110, 1) it adds -|ab - ab_q|² / (2 sigma²) to the logit of
    every bin q, up to a term equal for all bins that the softmax ignores, i.e. the log
    of a Gaussian of width `sigma` around the hinted colour. A cell without a hint is
    (0, 0, 0) and gets nothing, whatever the kernel."""
    kernel = np.zeros((1, 1, HINT_CHANNELS, num_bins), np.float32)
    if num_bins != NUM_BINS:
        return kernel
    centers = gamut.bin_centers().astype(np.float64)
    kernel[0, 0, 0] = _HINT_AB_SCALE * centers[:, 0] / sigma**2
    kernel[0, 0, 1] = _HINT_AB_SCALE * centers[:, 1] / sigma**2
    kernel[0, 0, 2] = -(centers**2).sum(1) / (2 * sigma**2)
    return kernel


def _hinted_logits(logits, pyramid, config):
    """The colour logits plus a 1x1 convolution of the hint map at S/4 (no bias): a direct
    path from a cell's hint to its colour distribution, set once the model is built to the
    log of a Gaussian around the hinted colour (`direct_hint_kernel`), so that a hinted
    cell takes its colour from the first step and training can refine it."""
    if pyramid is None:
        return logits
    direct = layers.Conv2D(
        config.num_bins,
        1,
        use_bias=False,
        kernel_initializer="zeros",
        name="color_logits_hints",
        dtype="float32",
    )(pyramid[4])
    return layers.Add(name="color_logits_with_hints", dtype="float32")([logits, direct])


def _add_hints(x, pyramid, stride, name, config):
    """x + a 1x1 convolution of the hint map at x's stride, for the block `name` that follows
    to spread. The convolution starts at zero and has no bias, so a warm-started network
    colours as before, and with no hint the added term is exactly zero. Its output is
    multiplied by HINT_GAIN: the same Adam steps then move it HINT_GAIN times as far, which
    a path that starts at zero needs to matter within a short fine-tuning."""
    if pyramid is None:
        return x
    projected = layers.Conv2D(
        x.shape[-1],
        1,
        use_bias=False,
        kernel_initializer="zeros",
        name=f"{name}_hints",
        dtype=config.dtype_policy,
    )(pyramid[stride])
    projected = layers.Rescaling(HINT_GAIN, name=f"{name}_hints_gain", dtype=config.dtype_policy)(
        projected
    )
    return layers.Add(name=f"{name}_with_hints", dtype=config.dtype_policy)([x, projected])


def _inputs(config):
    """(L input, hints input or None, the model's inputs argument)."""
    size = config.image_size
    lightness = keras.Input((size, size, 1), name="L")
    if not config.hints:
        return lightness, None, lightness
    hints = keras.Input((size, size, HINT_CHANNELS), name="hints")
    return lightness, hints, {"L": lightness, "hints": hints}


def takes_hints(model):
    """Whether `model` was built with hint inputs ({"L", "hints"} rather than L alone)."""
    return isinstance(model.input, dict)


def input_size(model):
    """S, the side of the model's square L input (models with or without hints)."""
    shape = model.input["L"].shape if takes_hints(model) else model.input.shape
    return int(shape[1])


def model_inputs(model, lightness, hints=None):
    """What to call `model` with: L alone, or {"L", "hints"} for a network that takes hints
    (all-zero hint maps when `hints` is None: automatic colour)."""
    if not takes_hints(model):
        return lightness
    lightness = keras.ops.convert_to_tensor(lightness, dtype="float32")
    if hints is None:
        shape = keras.ops.shape(lightness)
        hints = keras.ops.zeros((shape[0], shape[1], shape[2], HINT_CHANNELS), dtype="float32")
    return {"L": lightness, "hints": keras.ops.convert_to_tensor(hints, dtype="float32")}


def _conv_block(x, name, filters, num_convs, dilation, last_stride, config):
    """num_convs 3x3 convolutions with ReLU, the last one strided, then batch norm."""
    dtype = config.dtype_policy
    for i in range(num_convs):
        stride = last_stride if i == num_convs - 1 else 1
        x = layers.Conv2D(
            filters,
            3,
            strides=stride,
            dilation_rate=dilation if stride == 1 else 1,
            padding="same",
            activation="relu",
            name=f"{name}_{i + 1}",
            dtype=dtype,
        )(x)
    return _batch_norm(f"{name}_norm", config)(x)


def build_model(config=None):
    """Builds the two-output model.

    Args:
      config: `ModelConfig`; defaults to `ModelConfig()` (full width, 224 x 224).

    Returns:
      A `keras.Model` with input "L" (batch, S, S, 1), L in [0, 100] (with
      `config.hints`, inputs {"L", "hints" (batch, S, S, 3), colorization.core.hints}; call
      it through `model_inputs`), and a dict of outputs:
      "color_logits" (batch, S/4, S/4, 313) float32 and, when the class branch is on,
      "class_logits" (batch, num_classes) float32.
    """
    config = config or ModelConfig()
    if config.backbone == "mobilenet_v2":
        model = _build_mobilenet_colorizer(config)
    else:
        model = _build_vgg_colorizer(config)
    if config.hints:
        direct = model.get_layer("color_logits_hints")
        direct.set_weights([direct_hint_kernel(config.num_bins)])
    return model


def train_only_hints(model):
    """Freezes every layer of `model` but its colour-hint convolutions (`*_hints`), which
    carry no term when no hint is given: training then teaches the network to follow
    hints and leaves its automatic colours exactly as they were (frozen batch norms run
    in inference mode). Returns the names of the layers left trainable."""
    trainable = []
    for layer in model.layers:
        layer.trainable = layer.name.endswith("_hints") and bool(layer.weights)
        if layer.trainable:
            trainable.append(layer.name)
    if not trainable:
        raise ValueError(f"model {model.name!r} has no colour-hint layers to train.")
    return trainable


def _build_vgg_colorizer(config):
    """The paper's network (see the module doc)."""
    dtype = config.dtype_policy
    width = config.width_multiplier
    size = config.image_size

    lightness, hints, inputs = _inputs(config)
    pyramid = _hint_pyramid(hints, config, (4, 8))
    # Centre L at 50 and scale it to [-1, 1], as Zhang et al. centre it at 50.
    x = layers.Rescaling(1.0 / 50.0, offset=-1.0, name="normalize_l", dtype=dtype)(lightness)
    for name, filters, num_convs, dilation, stride in _TRUNK_BLOCKS:
        x = _conv_block(x, name, scaled_width(filters, width), num_convs, dilation, stride, config)
    conv5 = x

    outputs = {}
    if config.use_class_branch:
        # Downsample conv5 by 2 (S/8 -> S/16), then pool so fc1 sees a fixed-size vector.
        c = layers.Conv2D(
            scaled_width(512, width),
            3,
            strides=2,
            padding="same",
            activation="relu",
            name="class_downsample",
            dtype=dtype,
        )(conv5)
        c = _batch_norm("class_downsample_norm", config)(c)
        c = layers.GlobalAveragePooling2D(name="class_pool", dtype=dtype)(c)
        fc3, outputs["class_logits"] = _class_branch(c, config, dtype)

        if config.use_fusion:
            vector = _fusion_vector(fc3, outputs["class_logits"], config)
            if config.fusion_mode == "concat":
                x = _tile_and_concat(conv5, vector, size // 8, config)
            x = layers.Conv2D(
                scaled_width(512, width),
                1,
                activation="relu",
                name="fusion_conv",
                dtype=dtype,
            )(x)
            if config.fusion_mode == "film":
                x = _film(x, vector, "fusion", config)

    for name, filters, num_convs, dilation, stride in _HEAD_BLOCKS:
        x = _add_hints(x, pyramid, 8, name, config)
        x = _conv_block(x, name, scaled_width(filters, width), num_convs, dilation, stride, config)
    conv8 = scaled_width(_CONV8_FILTERS, width)
    x = layers.Conv2DTranspose(
        conv8, 4, strides=2, padding="same", activation="relu", name="conv8_1", dtype=dtype
    )(x)
    x = _add_hints(x, pyramid, 4, "conv8", config)
    x = layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_2", dtype=dtype)(x)
    x = layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_3", dtype=dtype)(x)
    outputs["color_logits"] = _hinted_logits(
        layers.Conv2D(config.num_bins, 1, name="color_logits", dtype="float32")(x), pyramid, config
    )

    return keras.Model(inputs=inputs, outputs=outputs, name="instance_aware_colorizer")


# Channels of the MobileNetV2 colour path at width 1.0: fusion, conv6 (S/16), conv7 (S/8),
# conv8 (S/4), and the semantic prior's projection.
_MOBILE_HEAD = {"fusion": 256, "conv6": 256, "conv7": 128, "conv8": 64, "semantic": 64}


@contextlib.contextmanager
def _global_dtype_policy(dtype):
    """Keras' global dtype policy set to `dtype` inside the block: keras.applications and the
    DeepLab layers build under it, so the trunks take the network's policy this way."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _semantic_skips(grey, config):
    """{"s8", "s4"}: DeepLabV3's features and class scores at S/8 (frozen; either alone by
    semantic_input), concatenated and projected by a trainable 1x1 convolution with ReLU, and
    that projection upsampled to S/4."""
    dtype = config.dtype_policy
    with _global_dtype_policy(dtype):
        semantic = deeplab.deeplab_v3(grey, trainable=False)
    if config.semantic_input == "both":
        x = layers.Concatenate(name="semantic_concat", dtype=dtype)(
            [semantic["features"], semantic["logits"]]
        )
    else:
        x = semantic["features" if config.semantic_input == "features" else "logits"]
    x = layers.Conv2D(
        scaled_width(_MOBILE_HEAD["semantic"], config.width_multiplier),
        1,
        activation="relu",
        name="semantic_proj",
        dtype=dtype,
    )(x)
    up = layers.UpSampling2D(2, interpolation="bilinear", name="semantic_up", dtype=dtype)(x)
    return {"s8": x, "s4": up}


def _class_branch(x, config, dtype):
    """fc1 -> fc2 -> fc3 -> class_logits on pooled features; returns (fc3, class_logits)."""
    for i, units in enumerate(config.fc_units):
        x = layers.Dense(units, activation="relu", name=f"fc{i + 1}", dtype=dtype)(x)
    # Logits in float32: softmax and cross-entropy lose too much in half precision.
    logits = layers.Dense(config.num_classes, name="class_logits", dtype="float32")(x)
    return x, logits


def _fusion_vector(fc3, class_logits, config):
    """The vector the colour path receives: fc3 or the class probabilities, with the
    training-time dropout of `config.fusion_dropout`."""
    dtype = config.dtype_policy
    if config.fusion_input == "probs":
        vector = layers.Softmax(name="fusion_probs", dtype=dtype)(class_logits)
    else:
        vector = fc3
    if config.fusion_dropout:
        vector = layers.Dropout(config.fusion_dropout, name="fusion_dropout", dtype=dtype)(vector)
    return vector


def _tile_and_concat(features, vector, grid, config):
    """concat(features, vector tiled over the grid x grid positions): the paper's fusion."""
    dtype = config.dtype_policy
    # (batch, n) -> (batch, 1, 1, n) -> the same vector at every position.
    tiled = layers.Reshape((1, 1, vector.shape[-1]), name="fusion_reshape")(vector)
    tiled = layers.UpSampling2D(size=(grid, grid), name="fusion_tile", dtype=dtype)(tiled)
    return layers.Concatenate(name="fusion_concat", dtype=dtype)([features, tiled])


@keras.saving.register_keras_serializable(package="colorization")
class FiLM(layers.Layer):
    """[features (b, h, w, c), scale_shift (b, 1, 1, 2c)] -> features * (1 + g) + b."""

    def call(self, inputs):
        features, scale_shift = inputs
        scale, shift = keras.ops.split(scale_shift, 2, axis=-1)
        return features * (1.0 + scale) + shift


def _film(features, vector, name, config):
    """features * (1 + g) + b with per-channel g and b computed from `vector`; g and b start
    at zero, so the modulation starts as the identity."""
    dtype = config.dtype_policy
    channels = features.shape[-1]
    scale_shift = layers.Dense(
        2 * channels, kernel_initializer="zeros", name=f"{name}_film", dtype=dtype
    )(vector)
    scale_shift = layers.Reshape((1, 1, 2 * channels), name=f"{name}_film_reshape")(scale_shift)
    return FiLM(name=f"{name}_film_apply", dtype=dtype)([features, scale_shift])


def _convs(x, name, filters, config, count=2):
    dtype = config.dtype_policy
    for i in range(count):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"{name}_{i + 1}", dtype=dtype
        )(x)
    return _batch_norm(f"{name}_norm", config)(x)


def _build_mobilenet_colorizer(config):
    """The instance-aware design on an ImageNet MobileNetV2 trunk (see the module doc)."""
    dtype = config.dtype_policy
    width = config.width_multiplier
    size = config.image_size
    lightness, hints, inputs = _inputs(config)
    pyramid = _hint_pyramid(hints, config, (4, 8, 16))
    with _global_dtype_policy(dtype):
        features = backbones.mobilenet_v2_features(lightness, trainable=not config.freeze_backbone)

    outputs = {}
    x = features["s16"]
    vector = None
    if config.use_class_branch:
        pooled = layers.GlobalAveragePooling2D(name="class_pool", dtype=dtype)(features["s32"])
        fc3, outputs["class_logits"] = _class_branch(pooled, config, dtype)
        if config.use_fusion:
            vector = _fusion_vector(fc3, outputs["class_logits"], config)
            if config.fusion_mode == "concat":
                x = _tile_and_concat(x, vector, size // 16, config)
    film = vector is not None and config.fusion_mode == "film"
    x = layers.Conv2D(
        scaled_width(_MOBILE_HEAD["fusion"], width),
        1,
        activation="relu",
        name="fusion_conv",
        dtype=dtype,
    )(x)
    if film:
        x = _film(x, vector, "fusion", config)
    x = _add_hints(x, pyramid, 16, "conv6", config)
    x = _convs(x, "conv6", scaled_width(_MOBILE_HEAD["conv6"], width), config)
    semantic = _semantic_skips(features["grey"], config) if config.semantic_prior else {}
    for name, skip, stride in (("conv7", "s8", 8), ("conv8", "s4", 4)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up", dtype=dtype)(x)
        skips = [x, features[skip]] + ([semantic[skip]] if semantic else [])
        x = layers.Concatenate(name=f"{name}_skip", dtype=dtype)(skips)
        x = _add_hints(x, pyramid, stride, name, config)
        x = _convs(x, name, scaled_width(_MOBILE_HEAD[name], width), config)
        if film and name == "conv7":
            # One stage finer (S/8), so the class can shape colour at object scale too.
            x = _film(x, vector, name, config)
    outputs["color_logits"] = _hinted_logits(
        layers.Conv2D(config.num_bins, 1, name="color_logits", dtype="float32")(x), pyramid, config
    )
    return keras.Model(inputs=inputs, outputs=outputs, name="instance_aware_colorizer_mnv2")


def _rebuilt(model, config, **changes):
    """`model`'s weights in the network of `config` (its ModelConfig) with `changes`, at the
    model's own input size unless `image_size` is among them. Only the input size and the
    dtype policy may change: no weight depends on them."""
    import dataclasses

    changes.setdefault("image_size", input_size(model))
    copy = build_model(dataclasses.replace(config, **changes))
    copy.set_weights(model.get_weights())
    return copy


def at_image_size(model, config, image_size):
    """The same network and weights at another input size S (no weight depends on S; only
    the fusion's tiling does). `config` is the model's ModelConfig; the model's own size is
    read from the model (a shipped model.keras may differ from the size it was trained at)."""
    if image_size == input_size(model):
        return model
    return _rebuilt(model, config, image_size=image_size)


def with_dtype_policy(model, config, dtype_policy):
    """The same network and weights (at the model's own input size) under another Keras
    dtype policy, e.g. "mixed_bfloat16". `config` is the model's ModelConfig."""
    return _rebuilt(model, config, dtype_policy=dtype_policy)


def count_flops(model):
    """Floating-point operations of one forward pass at batch 1 (a multiply-add = 2 FLOPs).

    Counts convolutions, transposed convolutions and dense layers, which hold all but a
    fraction of a percent of the work; normalisation, activations and pooling are ignored.
    """
    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * c_in * layer.filters
        elif isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * c
        elif isinstance(layer, layers.Conv2D):
            _, h, w, _ = layer.output.shape
            c_in = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * c_in * layer.filters
        elif isinstance(layer, layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return int(flops)
