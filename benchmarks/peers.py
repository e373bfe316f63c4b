"""The alternatives a user could pick instead of our runtimes, timed by benchmarks.run.

- `torch eccv16`: Zhang et al.'s colorization network (the "eccv16" layout: conv1-conv8 and
  a 1x1 convolution to 313 bins, no class branch) written here in PyTorch, randomly
  initialised, at the same input size and width multiplier as the preset it is compared
  with. It is the network a user would take from the original authors' release.
- `onnxruntime` and `openvino`: OUR Keras network exported to ONNX (Keras 3's
  `Model.export(format="onnx")`, which drives tf2onnx) and run by ONNX Runtime, and the same
  ONNX file compiled for the CPU by OpenVINO.

Every peer is timed up to the 313 colour logits, the same work as the "keras" row of the
suite (decoding to RGB is not included). These libraries come from the optional `bench`
extra (`pip install -e ".[bench]"`); `available()` says which are installed.
"""

import importlib.util

import numpy as np

from benchmarks.timing import timed
from colorization.model.network import scaled_width

PEER_MODULES = {"torch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}

# Zhang et al. 2016, eccv16 layout: (filters at width 1, convolutions, dilation, last stride).
# Batch norm follows each of these blocks; conv8 (transposed x2 + two 3x3) has none.
_ECCV16_BLOCKS = (
    (64, 2, 1, 2),
    (128, 2, 1, 2),
    (256, 3, 1, 2),
    (512, 3, 1, 1),
    (512, 3, 2, 1),
    (512, 3, 2, 1),
    (512, 3, 1, 1),
)


def available():
    """{peer: installed?} for the optional peer libraries."""
    return {
        name: importlib.util.find_spec(module) is not None for name, module in PEER_MODULES.items()
    }


def eccv16_torch(width_multiplier=1.0, num_bins=313):
    """Zhang et al.'s network in PyTorch: (N, 1, S, S) L -> (N, 313, S/4, S/4) logits."""
    from torch import nn

    modules = []
    channels = 1
    for filters, num_convs, dilation, last_stride in _ECCV16_BLOCKS:
        filters = scaled_width(filters, width_multiplier)
        for i in range(num_convs):
            stride = last_stride if i == num_convs - 1 else 1
            rate = dilation if stride == 1 else 1
            modules += [
                nn.Conv2d(channels, filters, 3, stride=stride, padding=rate, dilation=rate),
                nn.ReLU(inplace=True),
            ]
            channels = filters
        modules.append(nn.BatchNorm2d(channels))
    conv8 = scaled_width(256, width_multiplier)
    modules += [
        nn.ConvTranspose2d(channels, conv8, 4, stride=2, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(conv8, conv8, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(conv8, conv8, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(conv8, num_bins, 1),
    ]
    return nn.Sequential(*modules)


def count_parameters_torch(model):
    """Weights plus batch-norm running statistics, as Keras's count_params() counts them."""
    buffers = (b for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return int(sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in buffers))


def torch_runner(width_multiplier, image_size, threads):
    """run(batch, repeats) -> median/spread seconds of an eval-mode eccv16 forward pass."""
    import torch

    torch.manual_seed(0)
    model = eccv16_torch(width_multiplier).eval()

    def run(batch, repeats):
        torch.set_num_threads(threads)
        x = torch.rand(batch, 1, image_size, image_size) * 100.0
        with torch.inference_mode():
            return timed(lambda: model(x), repeats)

    return run


def torch_training(width_multiplier, image_size, batch, steps, repeats, threads):
    """Training examples/s of eccv16 (Adam, per-pixel cross-entropy over 313 bins)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = eccv16_torch(width_multiplier).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, image_size, image_size) * 100.0
    target = torch.randint(0, 313, (batch, image_size // 4, image_size // 4))

    def run_steps():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), target).backward()
            optimizer.step()

    seconds, (low, high) = timed(run_steps, repeats)
    return {
        "parameters": count_parameters_torch(model),
        "train_examples_per_s": steps * batch / seconds,
        "spread": [steps * batch / high, steps * batch / low],
    }


def export_onnx(model, path):
    """Writes the Keras network (L -> logits) as ONNX through Keras 3's exporter."""
    size = model.input_shape[1]
    model(np.zeros((1, size, size, 1), np.float32), training=False)  # the exporter needs a call
    model.export(path, format="onnx", verbose=False)
    return path


def _random_lightness(batch, size):
    return np.random.default_rng(0).uniform(0, 100, (batch, size, size, 1)).astype(np.float32)


def onnxruntime_session(path, threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnxruntime_runner(path, threads):
    """run(batch, repeats) -> median/spread seconds of ONNX Runtime on random L."""
    session = onnxruntime_session(path, threads)
    name, size = session.get_inputs()[0].name, session.get_inputs()[0].shape[1]

    def run(batch, repeats):
        feed = {name: _random_lightness(batch, size)}
        return timed(lambda: session.run(["color_logits"], feed), repeats)

    return run


def openvino_compiled(path, threads):
    import openvino

    return openvino.Core().compile_model(
        openvino.convert_model(path),
        "CPU",
        {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"},
    )


def openvino_runner(path, threads):
    """run(batch, repeats) -> median/spread seconds of OpenVINO on random L."""
    request = openvino_compiled(path, threads).create_infer_request()

    size = request.model_inputs[0].get_partial_shape()[1].get_length()

    def run(batch, repeats):
        x = _random_lightness(batch, size)
        return timed(lambda: request.infer([x]), repeats)

    return run


def logits_agreement(model, path, installed):
    """Largest |difference| of colour logits vs Keras for ONNX Runtime and OpenVINO on the
    ONNX file at `path`, relative to the largest |Keras logit| (random weights give small
    logits). `installed` is available()'s answer."""
    size = model.input_shape[1]
    x = _random_lightness(2, size)
    reference = np.asarray(model(x, training=False)["color_logits"])
    scale = float(np.abs(reference).max())
    result = {}
    if installed.get("onnxruntime"):
        session = onnxruntime_session(path, 1)
        (logits,) = session.run(["color_logits"], {session.get_inputs()[0].name: x})
        result["onnxruntime"] = float(np.abs(logits - reference).max()) / scale
    if installed.get("openvino"):
        outputs = openvino_compiled(path, 1)([x])
        logits = next(v for k, v in outputs.items() if "color_logits" in k.get_names())
        result["openvino"] = float(np.abs(logits - reference).max()) / scale
    return result
