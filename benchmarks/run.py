"""The benchmark suite behind the README's performance section.

    python -m benchmarks.run [--presets=smoke,cpu,paper] [--output=benchmarks/results.json]

Measures on whatever machine runs it:
  1. the machine's float32 ceiling: GFLOP/s of a large tf.matmul and of a large 3x3 conv
     (TensorFlow and LiteRT/XNNPACK), beside the nominal FMA peak;
  2. per preset: parameters, FLOPs/image, training examples/s, fraction of the ceiling,
     and beside it Zhang et al.'s eccv16 network trained by PyTorch at the same size;
  3. inference at batch 1 (latency) and batch 8 (throughput) for Keras, the SavedModel,
     each TFLite variant (XNNPACK) and the peers (benchmarks.peers: eccv16 in PyTorch, our
     network in ONNX Runtime and OpenVINO), with 1 and 2 threads, with the fraction of peak.
Every timing is repeated; the median and the min-max spread are reported. Models have
random weights: speed does not depend on them. Library versions, CPU and thread settings go
into the JSON. Peers whose library is missing (the `bench` extra) are listed as skipped.
"""

import json
import os
import platform
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from benchmarks import peers, train_step
from benchmarks.timing import timed
from colorization.core import cli, hardware
from colorization.core.config import DEFAULT_TEMPERATURE, ModelConfig
from colorization.core.presets import PRESETS
from colorization.model.network import build_model, count_flops, with_dtype_policy

FLAGS = flags.FLAGS
# cpu_scratch is the paper's VGG-style network at the old cpu size: the one PyTorch's eccv16
# also implements, so the training comparison is like for like.


def define_flags():
    flags.DEFINE_list("presets", ["smoke", "cpu_scratch", "paper"], "Presets to measure.")
    flags.DEFINE_list(
        "inference_presets", ["cpu_scratch", "paper"], "Presets whose inference is measured."
    )
    flags.DEFINE_integer("repeats", 5, "Timed repeats per measurement.")
    flags.DEFINE_bool("peers", True, "Also time the peers of benchmarks.peers that are installed.")
    flags.DEFINE_string("output", "benchmarks/results.json", "JSON output.")


# The paper preset is large for a CPU: fewer repeats, and batch 8 only at the most threads.
_LARGE = "paper"


def preset_model(name):
    """(image size, width, fc units, batch) of a train_main preset. The paper preset is timed
    at batch 4: its batch of 32 does not fit a CPU benchmark."""
    preset = PRESETS[name]
    model = preset.model
    if model.backbone != "vgg16":
        raise ValueError(
            f"preset {name!r} has backbone {model.backbone!r}; this suite measures the "
            "paper's VGG-style network (and PyTorch's eccv16 beside it): use cpu_scratch."
        )
    batch = 4 if name == _LARGE else preset.batch_size
    return model.image_size, model.width_multiplier, model.fc_units, batch


def _xnnpack_conv_gflops(repeats, convs=4, size=56, channels=256):
    """GFLOP/s of `convs` chained 3x3 float32 convolutions run by LiteRT (XNNPACK) on all
    cores: XNNPACK's kernels beat tf.nn.conv2d here, so the ceiling must include them."""
    from ai_edge_litert.interpreter import Interpreter

    kernels = [tf.random.normal([3, 3, channels, channels], stddev=0.02) for _ in range(convs)]

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, channels], tf.float32)])
    def chain(x):
        for kernel in kernels:
            x = tf.nn.conv2d(x, kernel, 1, "SAME")
        return x

    converter = tf.lite.TFLiteConverter.from_concrete_functions([chain.get_concrete_function()])
    runner = Interpreter(model_content=converter.convert(), num_threads=os.cpu_count())
    runner.allocate_tensors()
    runner.set_tensor(
        runner.get_input_details()[0]["index"],
        np.random.default_rng(0).standard_normal((1, size, size, channels), np.float32),
    )
    seconds, _ = timed(runner.invoke, repeats)
    return convs * 2 * size * size * 9 * channels * channels / seconds / 1e9


def _nominal_gflops():
    """cores x clock x 32 float32 FLOP/cycle (AVX2: two 8-wide FMA units), from /proc/cpuinfo;
    None where that cannot be read. An estimate: turbo and the FMA unit count vary by CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return None
    mhz = [float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
    if not mhz or " fma " not in text or " avx2 " not in text:
        return None
    return os.cpu_count() * max(mhz) / 1000 * 32


def _xnnpack_int8_conv_gops(repeats, convs=4, size=56, channels=256):
    """GOP/s (multiply-adds x 2) of the same conv chain quantized to full int8 (per-channel
    weights) and run by LiteRT/XNNPACK: the int8 ceiling (VNNI where the CPU has it)."""
    from ai_edge_litert.interpreter import Interpreter

    kernels = [tf.random.normal([3, 3, channels, channels], stddev=0.02) for _ in range(convs)]

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, channels], tf.float32)])
    def chain(x):
        for kernel in kernels:
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME"))
        return x

    def representative():
        rng = np.random.default_rng(0)
        for _ in range(4):
            yield [rng.standard_normal((1, size, size, channels)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([chain.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    runner = Interpreter(model_content=converter.convert(), num_threads=os.cpu_count())
    runner.allocate_tensors()
    detail = runner.get_input_details()[0]
    runner.set_tensor(
        detail["index"],
        np.random.default_rng(0).integers(-128, 128, (1, size, size, channels), dtype=np.int8),
    )
    seconds, _ = timed(runner.invoke, repeats)
    return convs * 2 * size * size * 9 * channels * channels / seconds / 1e9


def _tf_ceilings(dtype, repeats):
    """(matmul, 3x3 conv) GFLOP/s of TensorFlow (oneDNN) in `dtype`."""
    a = tf.cast(tf.random.normal([2048, 2048]), dtype)
    matmul = tf.function(lambda: tf.matmul(a, a))
    seconds, _ = timed(lambda: matmul().numpy(), repeats)
    matmul_gflops = 2 * 2048**3 / seconds / 1e9
    x = tf.cast(tf.random.normal([8, 56, 56, 256]), dtype)
    kernel = tf.cast(tf.random.normal([3, 3, 256, 256]), dtype)
    conv = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
    seconds, _ = timed(lambda: conv().numpy(), repeats)
    return matmul_gflops, 2 * 8 * 56 * 56 * 9 * 256 * 256 / seconds / 1e9


def machine_peak(repeats):
    """Float32 ceilings: a 2048^3 tf.matmul, a 3x3 tf.nn.conv2d (8x56x56x256 -> 256), the same
    convolution through LiteRT/XNNPACK, and the nominal FMA peak. `ceiling` is the largest of
    them; fractions of peak in the tables are against it."""
    matmul_gflops, conv_gflops = _tf_ceilings(tf.float32, repeats)
    bf16_matmul, bf16_conv = _tf_ceilings(tf.bfloat16, repeats)
    xnnpack_gflops = _xnnpack_conv_gflops(repeats)
    return {
        # Lower precisions, measured the same way (fractions of peak stay against float32).
        "bf16_matmul_gflops": bf16_matmul,
        "bf16_conv3x3_gflops": bf16_conv,
        "xnnpack_int8_conv3x3_gops": _xnnpack_int8_conv_gops(repeats),
        "matmul_gflops": matmul_gflops,
        "conv3x3_gflops": conv_gflops,
        "xnnpack_conv3x3_gflops": xnnpack_gflops,
        "nominal_fma_gflops": _nominal_gflops(),
        # Large runtimes reach ~97 % of the nominal peak here, above every microbenchmark:
        # the nominal peak is the ceiling where it can be read.
        "ceiling_gflops": max(matmul_gflops, conv_gflops, xnnpack_gflops, _nominal_gflops() or 0),
    }


def keras_inference(model, batch, repeats):
    size = model.input_shape[1]
    x = tf.random.uniform([batch, size, size, 1], 0, 100)
    run = tf.function(lambda: model(x, training=False))
    return timed(lambda: run()["color_logits"].numpy(), repeats)


def saved_model_inference(model, batch, repeats, directory, xla=False):
    from export import saved_model

    path = saved_model.export_saved_model(model, directory, xla=xla)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    size = model.input_shape[1]
    image = tf.cast(tf.random.uniform([batch, size, size, 3], 0, 255), tf.uint8)
    return timed(lambda: signature(image=image)["rgb"].numpy(), repeats)


def _real_photos(size):
    """L (n, S, S, 1) of scikit-image's photos: real inputs for the agreement checks."""
    import skimage.data

    from colorization.inference import decoding as inference

    photos = [skimage.data.chelsea(), skimage.data.astronaut(), skimage.data.coffee()]
    return tf.concat(
        [inference.model_input(inference.rgb_to_model_lightness(p[None]), size) for p in photos],
        0,
    )


def logits_agreement_db(reference, candidate, lightness):
    """PSNR (dB) of `candidate`'s colour logits against `reference`'s on real photos, with
    the reference's logit range as the peak, and the class top-1 agreement."""
    ref = reference(lightness, training=False)
    out = candidate(lightness, training=False)
    a = ref["color_logits"].numpy().astype(np.float64)
    b = tf.cast(out["color_logits"], tf.float32).numpy().astype(np.float64)
    mse = max(float(np.mean((a - b) ** 2)), 1e-30)
    result = {"logits_psnr_db": float(10 * np.log10((a.max() - a.min()) ** 2 / mse))}
    if "class_logits" in ref:
        same = np.argmax(ref["class_logits"], -1) == np.argmax(out["class_logits"], -1)
        result["class_agreement"] = float(np.mean(same))
    return result


def tflite_runner(path, threads):
    """run(calls, repeats): timing of `calls` back-to-back invocations of a TFLite graph
    (they take one image) on a random grey image."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner()
    size = runner.get_input_details()["grey"]["shape"][1]
    grey = np.random.default_rng(0).integers(0, 256, (1, size, size, 1), dtype=np.uint8)
    temperature = np.array([DEFAULT_TEMPERATURE], np.float32)

    def run(calls, repeats):
        def invoke():
            for _ in range(calls):
                runner(grey=grey, temperature=temperature)

        return timed(invoke, repeats)

    return run


def _fmt(seconds_and_spread, per=1):
    seconds, (low, high) = seconds_and_spread
    return f"{1000 * seconds / per:.1f} ({1000 * low / per:.1f}-{1000 * high / per:.1f})"


def _versions():
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}
    for name in ("ai_edge_litert", "torch", "onnxruntime", "openvino", "tf2onnx", "onnx"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", None) or module.get_version()
        except (ImportError, AttributeError):
            versions[name] = None
    return versions


def _machine():
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "instruction_sets": hardware.instruction_sets(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            machine["cpu"] = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return machine


def training_variants():
    """(label, jit_compile, dtype policy) of our training step as the suite times it: Keras's
    default (no XLA on CPU), XLA, and mixed_bfloat16 where the CPU has bf16 dot products
    (elsewhere bf16 is emulated and slower, so it is not timed). XLA's CPU backend does not
    use oneDNN's bf16 kernels, so bf16 is timed without it."""
    variants = [("ours (keras, tf)", "auto", "float32"), ("ours, XLA", True, "float32")]
    if hardware.has_bf16():
        variants.append(("ours, mixed_bfloat16", "auto", "mixed_bfloat16"))
    return variants


def measure_training(presets, peak, use_peers):
    print(
        "| preset | implementation | S | width | batch | params | GFLOPs/img (fwd) | "
        "train img/s (min-max) | train GFLOP/s (3x fwd) | % of ceiling |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for preset in presets:
        size, width, fc_units, batch = preset_model(preset)
        steps = 2 if preset == _LARGE else 5
        candidates = []
        for label, jit, policy in training_variants():
            row = train_step.measure(
                size,
                width,
                fc_units,
                batch,
                steps=steps,
                repeats=2 if preset == _LARGE else 3,
                jit_compile=jit,
                dtype_policy=policy,
            )
            row["implementation"] = label
            candidates.append(row)
        if use_peers:
            peer = peers.torch_training(
                width,
                size,
                batch,
                steps=1 if preset == _LARGE else steps,
                repeats=2 if preset == _LARGE else 3,
                threads=os.cpu_count(),
            )
            # eccv16 is our network without the class branch: same colour path FLOPs.
            no_branch = build_model(
                ModelConfig(
                    image_size=size,
                    width_multiplier=width,
                    use_class_branch=False,
                    use_fusion=False,
                )
            )
            peer.update(
                implementation="torch eccv16",
                image_size=size,
                width_multiplier=width,
                gflops_per_image=count_flops(no_branch) / 1e9,
            )
            candidates.append(peer)
        for entry in candidates:
            # A training step costs about 3x the forward pass (forward, input and weight gradients).
            achieved = 3 * entry["gflops_per_image"] * entry["train_examples_per_s"]
            entry.update(
                preset=preset,
                batch_size=batch,
                train_gflops=achieved,
                fraction_of_peak=achieved / peak["ceiling_gflops"],
            )
            rows.append(entry)
            low, high = entry["spread"]
            print(
                f"| {preset} | {entry['implementation']} | {size} | {width} | {batch} | "
                f"{entry['parameters']:,} | {entry['gflops_per_image']:.2f} | "
                f"{entry['train_examples_per_s']:.1f} ({low:.1f}-{high:.1f}) | {achieved:.1f} | "
                f"{100 * entry['fraction_of_peak']:.0f}% |",
                flush=True,
            )
    return rows


def measure_inference(presets, peak, repeats_default, use_peers):
    from export import tflite

    print(
        "\n| preset | runtime | threads | batch-1 latency ms (min-max) | batch-8 ms/img (min-max) "
        "| % of ceiling (batch 1) |"
    )
    print("|---|---|---|---|---|---|")
    rows = []
    installed = peers.available() if use_peers else {}
    for preset in presets:
        size, width, fc_units, _ = preset_model(preset)
        keras.utils.set_random_seed(0)
        model_config = ModelConfig(image_size=size, width_multiplier=width, fc_units=fc_units)
        model = build_model(model_config)
        gflops = count_flops(model) / 1e9
        repeats = 3 if preset == _LARGE else repeats_default

        def batch8_wanted(threads, preset=preset):
            return preset != _LARGE or threads in ("all", os.cpu_count())

        def record(runtime, threads, latency, throughput, preset=preset, gflops=gflops, note=None):
            entry = {
                "preset": preset,
                "runtime": runtime,
                "threads": threads,
                "batch1_latency_s": latency[0],
                "batch1_spread_s": latency[1],
                "batch8_s_per_image": throughput[0] / 8 if throughput else None,
                "batch8_spread_s_per_image": [t / 8 for t in throughput[1]] if throughput else None,
                "fraction_of_peak": gflops / latency[0] / peak["ceiling_gflops"],
            }
            if note:
                entry["note"] = note
            rows.append(entry)
            print(
                f"| {preset} | {runtime} | {threads} | {_fmt(latency)} | "
                f"{_fmt(throughput, 8) if throughput else '-'} | {100 * entry['fraction_of_peak']:.0f}% |",
                flush=True,
            )

        def sweep_threads(
            runtime, make_run, *args, note=None, batch8_wanted=batch8_wanted, repeats=repeats
        ):
            """Times make_run(*args, threads=T)(batch, repeats) for T = 1, 2, batch 1 and 8."""
            for threads in (1, 2):
                run = make_run(*args, threads=threads)
                record(
                    runtime,
                    threads,
                    run(1, repeats),
                    run(8, max(2, repeats // 2)) if batch8_wanted(threads) else None,
                    note=note,
                )

        record(
            "keras", "all", keras_inference(model, 1, repeats), keras_inference(model, 8, repeats)
        )
        bf16 = None
        if hardware.has_bf16():
            bf16 = with_dtype_policy(model, model_config, "mixed_bfloat16")
            agreement = logits_agreement_db(model, bf16, _real_photos(size))
            record(
                "keras mixed_bfloat16",
                "all",
                keras_inference(bf16, 1, repeats),
                keras_inference(bf16, 8, repeats),
                note=f"vs float32 on real photos: {agreement}",
            )
        with tempfile.TemporaryDirectory() as directory:
            record(
                "saved_model (uint8 in, RGB out)",
                "all",
                saved_model_inference(model, 1, repeats, os.path.join(directory, "a")),
                saved_model_inference(model, 8, repeats, os.path.join(directory, "b")),
            )
            record(
                "saved_model, XLA network",
                "all",
                saved_model_inference(model, 1, repeats, os.path.join(directory, "c"), xla=True),
                saved_model_inference(model, 8, repeats, os.path.join(directory, "d"), xla=True),
            )
            if bf16 is not None:
                record(
                    "saved_model, bfloat16",
                    "all",
                    saved_model_inference(bf16, 1, repeats, os.path.join(directory, "e")),
                    saved_model_inference(bf16, 8, repeats, os.path.join(directory, "f")),
                )
            calibration = [
                np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8)
                for i in range(8)
            ]
            for variant, path in tflite.export_tflite(
                model, directory, tflite.VARIANTS, calibration
            ).items():
                size_mb = os.path.getsize(path) / 1e6
                sweep_threads(
                    f"tflite {variant} ({size_mb:.1f} MB)",
                    tflite_runner,
                    path,
                    note="batch 8 = 8 back-to-back calls (batch-1 graph)",
                )
            if installed.get("onnxruntime") or installed.get("openvino"):
                onnx_path = peers.export_onnx(model, os.path.join(directory, "model.onnx"))
                if installed.get("onnxruntime"):
                    sweep_threads("onnxruntime (our network)", peers.onnxruntime_runner, onnx_path)
                if installed.get("openvino"):
                    sweep_threads("openvino (our network)", peers.openvino_runner, onnx_path)
                agreement = peers.logits_agreement(model, onnx_path, installed)
                print(f"  (max |logits - keras| / max |keras logit|: {agreement})", flush=True)
                rows.append({"preset": preset, "logits_agreement": agreement})
        if installed.get("torch"):
            sweep_threads("torch eccv16 (no class branch)", peers.torch_runner, width, size)
    return rows


def main(argv):
    del argv
    start = time.perf_counter()
    installed = peers.available()
    missing = [name for name, ok in installed.items() if not ok]
    if FLAGS.peers and missing:
        print(f"Peers not installed (pip install -e '.[bench]'): {', '.join(missing)}")
    result = {"machine": _machine(), "versions": _versions(), "peers_installed": installed}
    peak = machine_peak(FLAGS.repeats)
    result["peak"] = peak
    print(
        f"Machine: {result['machine']['cpu']}, {result['machine']['logical_cpus']} logical CPUs; "
        f"instruction sets: {' '.join(result['machine']['instruction_sets']) or 'none of interest'}"
    )
    nominal = peak["nominal_fma_gflops"]
    print(
        f"Peak float32 GFLOP/s: matmul {peak['matmul_gflops']:.1f}, 3x3 conv (TF) "
        f"{peak['conv3x3_gflops']:.1f}, 3x3 conv (XNNPACK) {peak['xnnpack_conv3x3_gflops']:.1f}; "
        f"ceiling {peak['ceiling_gflops']:.1f}"
        + (f" = nominal FMA peak {nominal:.1f}" if nominal == peak["ceiling_gflops"] else "")
    )
    print(
        f"bfloat16 GFLOP/s: matmul {peak['bf16_matmul_gflops']:.1f}, 3x3 conv (TF) "
        f"{peak['bf16_conv3x3_gflops']:.1f}; int8 GOP/s: 3x3 conv (XNNPACK) "
        f"{peak['xnnpack_int8_conv3x3_gops']:.1f}\n"
    )
    result["training"] = measure_training(FLAGS.presets, peak, FLAGS.peers and installed["torch"])
    print(f"  [{time.perf_counter() - start:.0f} s]", flush=True)
    result["inference"] = measure_inference(
        FLAGS.inference_presets, peak, FLAGS.repeats, FLAGS.peers
    )
    result["wall_time_s"] = time.perf_counter() - start
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nWrote {FLAGS.output} in {result['wall_time_s']:.0f} s")


if __name__ == "__main__":
    cli.run(main, define_flags)
