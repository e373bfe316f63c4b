"""Generated test data (colourful photos and VOCdevkit folders, no network, no data outside
the tests), and the project's commands run as a user runs them."""

import atexit
import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import numpy as np
from PIL import Image

# The repository root: the working directory of subprocess tests.
ROOT = pathlib.Path(__file__).resolve().parents[1]


# A process that has imported TensorFlow and Keras once (and run no TensorFlow op, so that
# forking it is safe) runs each command in a forked child: `python -m MODULE ARGS` or
# `python SCRIPT ARGS` as __main__, with its own working folder, stdout, stderr and exit
# status, without paying for the imports again. Requests and answers are JSON lines.
_FORK_SERVER = r"""
import json, os, runpy, sys, threading, traceback
import keras, tensorflow  # noqa: F401

def child(argv, cwd, out, err):
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    os.chdir(cwd)
    status = 0
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)

def drain(fd, into):
    with os.fdopen(fd, "rb") as pipe:
        into.append(pipe.read())

answers = sys.stdout
for line in sys.stdin:
    request = json.loads(line)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_read)
        os.close(err_read)
        child(request["argv"], request["cwd"], out_write, err_write)
    os.close(out_write)
    os.close(err_write)
    out, err = [], []
    readers = [threading.Thread(target=drain, args=a) for a in ((out_read, out), (err_read, err))]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    answers.write(json.dumps({"code": code, "stdout": out[0].decode(errors="replace"),
                              "stderr": err[0].decode(errors="replace")}) + "\n")
    answers.flush()
"""
_server = None
_server_lock = threading.Lock()


def _fork_server():
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, "-c", _FORK_SERVER],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")),
        )
        atexit.register(_server.kill)
    return _server


def run_command(argv, cwd=ROOT, env=None, timeout=None):
    """`python ARGV...` (ARGV = ["-m", MODULE, ...] or [SCRIPT, ...]) as a user runs it, with
    its output captured as text: a subprocess.CompletedProcess. Without `env`, in a child
    forked from one process that imported TensorFlow once; with `env` (which may change
    what the imports do), in a fresh interpreter."""
    if env is not None:
        return subprocess.run(
            [sys.executable, *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    with _server_lock:
        server = _fork_server()
        server.stdin.write(json.dumps({"argv": [str(a) for a in argv], "cwd": str(cwd)}) + "\n")
        server.stdin.flush()
        answer = json.loads(server.stdout.readline())
    return subprocess.CompletedProcess(
        [sys.executable, *argv], answer["code"], answer["stdout"], answer["stderr"]
    )


def run_module(module, *args, env=None):
    """Runs `python -m module args...` from the repository root, capturing text output."""
    return run_command(["-m", module, *args], env=env)


VOC_NAMES = ("dog", "cat", "sheep", "horse", "cow")


def photo(seed, height=40, width=56):
    """A colourful uint8 RGB image: smooth gradients plus noise, different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    phase = rng.uniform(0, 1, 3)
    base = np.stack(
        [(x / width + phase[0]) % 1, (y / height + phase[1]) % 1, (1 - x / width + phase[2]) % 1],
        -1,
    )
    return np.clip((base * 0.8 + rng.random((height, width, 3)) * 0.2) * 255, 0, 255).astype(
        np.uint8
    )


def voc_xml(objects, width=56, height=40):
    """VOC annotation text for [(class name, (xmin, ymin, xmax, ymax))]."""
    parts = [f"<annotation><size><width>{width}</width><height>{height}</height></size>"]
    for name, (x0, y0, x1, y1) in objects:
        parts.append(
            f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        )
    parts.append("</annotation>")
    return "".join(parts)


def write_vocdevkit(root, images, splits):
    """Writes root/{JPEGImages,Annotations,ImageSets/Main}; images: {id: (array, objects)},
    splits: {split name: [ids]}. Returns root."""
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for image_id, (array, objects) in images.items():
        Image.fromarray(array).save(root / "JPEGImages" / f"{image_id}.jpg", quality=95)
        height, width = array.shape[:2]
        (root / "Annotations" / f"{image_id}.xml").write_text(voc_xml(objects, width, height))
    for split, ids in splits.items():
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


def small_vocdevkit(root, count=12, height=48, width=64):
    """A VOCdevkit of `count` photos, one animal box each, 3/4 train and 1/4 val."""
    images = {}
    for i in range(count):
        name = VOC_NAMES[i % len(VOC_NAMES)]
        images[f"img_{i:03d}"] = (
            photo(100 + i, height, width),
            [(name, (4, 4, width - 4, height - 4))],
        )
    ids = list(images)
    split = count * 3 // 4
    return write_vocdevkit(
        root, images, {"train": ids[:split], "val": ids[split:], "trainval": ids}
    )


def quantized_mobilenet_v2_tflite(path, alpha=0.35, size=96, classes=10, seed=0, full_integer=True):
    """Writes a small MobileNetV2 classifier as a quantized TFLite file, batch norm folded
    by the converter; returns (path, the float Keras model it came from).

    full_integer=True: int8 weights per output channel and uint8 activations (like Google's
    ImageNet files); False: dynamic-range quantization (int8 weights, float activations).

    The weights are random but not degenerate: batch-norm statistics are set from a batch of
    photos, so activations keep their scale through the 17 blocks, and the classifier is
    scaled so that the class scores of different photos are well apart.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, weights=None, classes=classes
    )
    images = np.stack([photo(seed + i, size, size) for i in range(16)]).astype(np.float32)
    x = images / 127.5 - 1.0
    # Batch-norm recalibration: with momentum 0, one forward pass in training mode sets every
    # BN's moving statistics to the statistics of these photos' activations.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(x, training=True)
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 20.0, bias])

    def representative():
        for image in images:
            yield [image[None] / 127.5 - 1.0]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if full_integer:
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    pathlib.Path(path).write_bytes(converter.convert())
    return path, model


def built_once(tmp_path_factory, name, make):
    """The folder NAME, filled by make(folder) once per test run. Under pytest-xdist every
    worker gets the same folder (the first to ask makes it while the others wait for it);
    without xdist, a temporary folder of this process."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    # The workers' temporary folders share this run's parent folder.
    root = tmp_path_factory.getbasetemp().parent
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        complete = root / f"{name}.complete"
        if not complete.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            complete.touch()
    return folder


def shared_mobilenet_v2_tflite(tmp_path_factory, name, **kwargs):
    """quantized_mobilenet_v2_tflite(**kwargs) made once per test run (built_once): (path of
    the TFLite file, the float Keras model it came from, loaded in this process)."""
    import keras

    def make(folder):
        _, model = quantized_mobilenet_v2_tflite(folder / f"{name}.tflite", **kwargs)
        model.save(folder / "source.keras")

    folder = built_once(tmp_path_factory, name, make)
    return folder / f"{name}.tflite", keras.saving.load_model(folder / "source.keras")


def deeplab_standin_tflite(path, size=65, seed=7):
    """A float DeepLabV3-MobileNetV2 TFLite file at `path` with random weights (scaled so that
    activations neither vanish nor explode over 17 blocks), made by the TFLite converter from
    colorization.model.deeplab's Keras network; returns that Keras model."""
    import keras
    import tensorflow as tf

    from colorization.model import deeplab

    keras.utils.set_random_seed(seed)
    model = deeplab.build_deeplab_v3(size)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:-1]) if kernel.shape[-1] != 1 else 9
            layer.set_weights(
                [
                    rng.normal(0, np.sqrt(2.0 / fan_in), kernel.shape).astype(np.float32),
                    rng.normal(0, 0.1, bias.shape).astype(np.float32),
                ]
            )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    pathlib.Path(path).write_bytes(converter.convert())
    return model


def shared_deeplab_tflite(tmp_path_factory):
    """deeplab_standin_tflite made once per test run (built_once): (path of the TFLite file,
    the Keras model it came from, loaded in this process)."""
    import keras

    def make(folder):
        model = deeplab_standin_tflite(folder / "deeplab.tflite")
        model.save(folder / "source.keras")

    folder = built_once(tmp_path_factory, "deeplab_standin", make)
    return folder / "deeplab.tflite", keras.saving.load_model(folder / "source.keras")
