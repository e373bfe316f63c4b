"""ImageNet weights for the trunks, from places that work offline.

`read_mobilenet_v2_tflite(path)` reads an ImageNet MobileNetV2 classifier stored as a
(quantized) TFLite file — Google's TF1 uint8 file and its TF2 int8 file both work, as does
any file the TFLite converter makes from `keras.applications.MobileNetV2` — and returns
float weights in Keras' layouts:

- Each convolution's weights are dequantized (`scale * (q - zero_point)`, per output
  channel where the file stores several scales); the bias (int32, scaled by input scale x
  weight scale) the same way.
- Batch normalisation was folded into the convolutions when the file was made, so each
  Keras batch norm becomes the identity plus the folded bias: gamma 1, beta = bias, moving
  mean 0, moving variance 1 - epsilon.
- Tensors are matched by position, not by name: the 52 CONV_2D / DEPTHWISE_CONV_2D ops in
  execution order are MobileNetV2's 52 convolutions in Keras' layer order (names differ
  between the TF1, TF2 and converter files and are merged by the converter), and the op
  after them (a 1x1 CONV_2D or FULLY_CONNECTED) is the classifier. Every shape is checked.

`load_imagenet_weights(model, spec)` applies them to a colorizer's trunk and says what it
loaded. Only NumPy and LiteRT's interpreter are needed (no TensorFlow graph is built).
"""

import os

import numpy as np

from colorization.core.config import IMAGENET_INIT as IMAGENET
from colorization.core.config import TFLITE_INIT_PREFIX as TFLITE_PREFIX
from colorization.model import backbones

_NUM_CONVS = 52


class PretrainedError(ValueError):
    """A pretrained weight file that cannot be used, with what was expected."""


def _dequantize(details, array):
    quant = details["quantization_parameters"]
    scales = np.asarray(quant["scales"], np.float64)
    zero_points = np.asarray(quant["zero_points"], np.float64)
    values = np.asarray(array)
    if values.dtype in (np.float32, np.float16, np.float64):
        return values.astype(np.float32)
    if scales.size == 0:
        raise PretrainedError(f"tensor {details['name']!r} is {values.dtype} without a scale.")
    if scales.size == 1:
        return (scales[0] * (values.astype(np.float64) - zero_points[0])).astype(np.float32)
    axis = quant["quantized_dimension"]
    shape = [1] * values.ndim
    shape[axis] = scales.size
    zero_points = zero_points if zero_points.size == scales.size else np.zeros_like(scales)
    return (scales.reshape(shape) * (values - zero_points.reshape(shape))).astype(np.float32)


def weight_interpreter(path, expected, error=PretrainedError):
    """A LiteRT interpreter of the TFLite file at `path`, allocated, with every op and its
    weight tensors visible (no default delegate). Raises `error` naming `expected` when the
    file is missing or not a TFLite flatbuffer."""
    if not os.path.isfile(path):
        raise error(f"{path!r} does not exist. Expected {expected}.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] != b"TFL3":
        raise error(
            f"{path!r} is not a TFLite flatbuffer (no 'TFL3' identifier). Expected {expected}."
        )
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=path,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    return interpreter


def read_mobilenet_v2_tflite(path):
    """Float weights of a MobileNetV2 ImageNet classifier in a TFLite file.

    Returns:
      {"convs": [(kernel, bias)] * 52 in Keras layouts (Conv2D kernel (h, w, in, out),
       DepthwiseConv2D kernel (h, w, in, 1)), "classifier": (kernel (1280, classes), bias
       (classes,)), "input": (scale, zero_point) of the file's input}.

    Raises:
      PretrainedError: the file is missing, not TFLite, or not a MobileNetV2 classifier.
    """
    interpreter = weight_interpreter(
        path,
        "an ImageNet MobileNetV2 classifier such as mobilenet_v2_1.0_224_quant.tflite",
    )
    details = interpreter.get_tensor_details()

    def tensor(index):
        return _dequantize(details[index], interpreter.get_tensor(index))

    convs, classifier = [], None
    for op in interpreter._get_ops_details():
        name = op["op_name"]
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        inputs = [int(i) for i in op["inputs"]]
        weights = tensor(inputs[1])
        bias = tensor(inputs[2]) if len(inputs) > 2 and inputs[2] >= 0 else None
        if len(convs) == _NUM_CONVS:
            # The classifier: a 1x1 CONV_2D (out, 1, 1, in) or FULLY_CONNECTED (out, in).
            kernel = weights.reshape(weights.shape[0], -1).T
            classifier = (kernel, bias if bias is not None else np.zeros(kernel.shape[1]))
            break
        if name == "FULLY_CONNECTED":
            raise PretrainedError(
                f"{path!r}: a fully connected layer after {len(convs)} convolutions; "
                f"MobileNetV2 has {_NUM_CONVS}. Expected an ImageNet MobileNetV2 classifier."
            )
        if name == "CONV_2D":
            kernel = weights.transpose(1, 2, 3, 0)  # (out, h, w, in) -> (h, w, in, out)
        else:
            kernel = weights[0][..., None]  # (1, h, w, in) -> (h, w, in, 1)
        if bias is None:
            bias = np.zeros(kernel.shape[-2] if name != "CONV_2D" else kernel.shape[-1])
        convs.append((kernel.astype(np.float32), bias.astype(np.float32)))
    if len(convs) != _NUM_CONVS or classifier is None:
        raise PretrainedError(
            f"{path!r} holds {len(convs)} convolutions and {'a' if classifier else 'no'} "
            f"classifier; MobileNetV2 has {_NUM_CONVS} and one. Expected an ImageNet "
            "MobileNetV2 classifier."
        )
    inp = details[interpreter.get_input_details()[0]["index"]]["quantization_parameters"]
    scale = float(inp["scales"][0]) if len(inp["scales"]) else 1.0
    zero = float(inp["zero_points"][0]) if len(inp["zero_points"]) else 0.0
    return {"convs": convs, "classifier": classifier, "input": (scale, zero)}


def apply_mobilenet_v2(model, weights):
    """Sets the MobileNetV2 trunk of `model` from `read_mobilenet_v2_tflite` output.

    Returns the names of the layers set. Raises PretrainedError on a shape mismatch (for
    example a file of another width than the model's trunk).
    """
    layers = backbones.mobilenet_conv_layers(model)
    # A network without the class branch keeps only the part of the trunk its colour path
    # reads (up to the stride-16 features): the first convolutions of the 52, in order.
    if not 0 < len(layers) <= _NUM_CONVS:
        raise PretrainedError(
            f"the model has {len(layers)} MobileNetV2 convolutions, expected 1 to "
            f"{_NUM_CONVS}: is its backbone mobilenet_v2?"
        )
    loaded = []
    for layer, (kernel, bias) in zip(layers, weights["convs"][: len(layers)], strict=True):
        expected = tuple(layer.kernel.shape)
        if kernel.shape != expected:
            raise PretrainedError(
                f"layer {layer.name}: kernel {expected} in the model, {kernel.shape} in the "
                "file. Expected a width-1.0 MobileNetV2."
            )
        layer.kernel.assign(kernel)
        norm = backbones.mobilenet_batch_norm_of(model, layer.name)
        channels = bias.shape[0]
        norm.set_weights(
            [
                np.ones(channels, np.float32),
                bias,
                np.zeros(channels, np.float32),
                np.full(channels, 1.0 - norm.epsilon, np.float32),
            ]
        )
        loaded += [layer.name, norm.name]
    return loaded


# Caffe-style per-channel means (B, G, R) that keras.applications' VGG16 subtracts.
VGG16_MEANS_BGR = (103.939, 116.779, 123.68)
VGG16_TRUNK = ("conv1", "conv2", "conv3", "conv4", "conv5")


def apply_vgg16(model, vgg16):
    """Sets the paper's trunk (conv1_1 ... conv5_3, width 1.0) from a Keras VGG16's 13
    convolutions, in order; returns the names of the layers set.

    The first convolution is folded for our input: VGG16 sees x_c = 255 g - mean_c on three
    (BGR) channels, our trunk sees n = L / 50 - 1 on one. Taking the grey value g = L / 100
    = (n + 1) / 2 (the CIELAB lightness curve is close to sRGB's), x_c = 127.5 n + 127.5 -
    mean_c, so the folded kernel is 127.5 times the kernel summed over the colour channels,
    and the constant moves into the bias (exact away from the zero-padded border).
    """
    import numpy as np

    theirs = [layer for layer in vgg16.layers if type(layer).__name__ == "Conv2D"]
    ours = [
        model.get_layer(layer.name)
        for layer in model.layers
        if layer.name.split("_")[0] in VGG16_TRUNK and type(layer).__name__ == "Conv2D"
    ]
    if len(theirs) != 13 or len(ours) != 13:
        raise PretrainedError(
            f"VGG16 has 13 convolutions; found {len(theirs)} in the source and {len(ours)} in "
            "the model's trunk. Expected backbone vgg16 at width_multiplier 1.0."
        )
    loaded = []
    for index, (target, source) in enumerate(zip(ours, theirs, strict=True)):
        kernel, bias = source.get_weights()
        if index == 0:
            offsets = 127.5 - np.asarray(VGG16_MEANS_BGR, np.float32)
            bias = bias + np.einsum("hwco,c->o", kernel, offsets)
            kernel = 127.5 * kernel.sum(axis=2, keepdims=True)
        if kernel.shape != tuple(target.kernel.shape):
            raise PretrainedError(
                f"layer {target.name}: kernel {tuple(target.kernel.shape)} in the model, "
                f"{kernel.shape} in VGG16. Expected width_multiplier 1.0."
            )
        target.set_weights([kernel, bias])
        loaded.append(target.name)
    return loaded


def fetch_keras_imagenet(backbone):
    """keras.applications' ImageNet network for `backbone` (downloaded once into
    ~/.keras/models, then read from there). Raises PretrainedError when it cannot be had."""
    import keras

    application = {
        "vgg16": keras.applications.VGG16,
        "mobilenet_v2": keras.applications.MobileNetV2,
    }
    if backbone not in application:
        raise PretrainedError(f"No ImageNet weights for backbone {backbone!r}.")
    try:
        return application[backbone](include_top=False, weights="imagenet")
    except Exception as e:  # urllib and Keras raise several types for a failed download.
        raise PretrainedError(
            f"Could not get ImageNet {backbone} weights from keras.applications "
            f"({type(e).__name__}: {str(e)[:120]}). It needs a network once; offline, use "
            "--backbone=mobilenet_v2 --init_from=mobilenet_v2:PATH.tflite, or train from "
            "scratch with --init_from=''."
        ) from e


def is_pretrained_spec(spec):
    """True when an init_from value names ImageNet weights (not a .keras/.weights.h5 file)."""
    return spec.startswith(TFLITE_PREFIX) or spec == IMAGENET


def fetch_pretrained(spec, backbone="mobilenet_v2"):
    """Reads (or downloads) the ImageNet weights `spec` names, without touching a model, so
    that a run can fail on a bad file before it reads any data.

    Args:
      spec: "mobilenet_v2:PATH.tflite" (offline) or "imagenet" (keras.applications).

    Returns:
      what `load_imagenet_weights` takes as `reference`.
    """
    if spec.startswith(TFLITE_PREFIX):
        return read_mobilenet_v2_tflite(spec[len(TFLITE_PREFIX) :])
    if spec == IMAGENET:
        return fetch_keras_imagenet(backbone)
    raise PretrainedError(
        f"Unknown pretrained spec {spec!r}. Expected mobilenet_v2:PATH.tflite or imagenet."
    )


def load_imagenet_weights(model, spec, backbone="mobilenet_v2", reference=None):
    """Loads ImageNet weights into the trunk of `model`; prints and returns what it loaded.

    Args:
      spec: "mobilenet_v2:PATH.tflite" (offline) or "imagenet" (keras.applications).
      reference: what fetch_pretrained(spec, backbone) returned, if fetched already.
    """
    if reference is None:
        reference = fetch_pretrained(spec, backbone)
    if spec.startswith(TFLITE_PREFIX):
        loaded = apply_mobilenet_v2(model, reference)
        source = f"TFLite file {spec[len(TFLITE_PREFIX) :]}"
    elif backbone == "vgg16":
        loaded = apply_vgg16(model, reference)
        source = "keras.applications (weights='imagenet')"
    else:
        loaded = []
        for layer in reference.layers:
            if layer.weights:
                model.get_layer(layer.name).set_weights(layer.get_weights())
                loaded.append(layer.name)
        source = "keras.applications (weights='imagenet')"
    print(
        f"ImageNet {backbone} trunk from {source}: {len(loaded)} layers set; the colour path, "
        "class branch and fusion start from random weights.",
        flush=True,
    )
    return loaded
