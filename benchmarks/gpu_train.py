"""Trains the model on a pack (benchmarks/gpu_pack.py) with any Keras 3 backend, no TensorFlow.

    KERAS_BACKEND=jax python -m benchmarks.gpu_train --pack=gpu_pack/voc_train_224.npz \
        --output_dir=/tmp/gpu_run --seconds=360

Written for the lent GPU machine (benchmarks/gpu_train.sh), which has JAX, NumPy, Pillow and
scikit-image but no TensorFlow. The model and losses are the project's own
(colorization.model, colorization.losses: keras.layers / keras.ops only); what the
TensorFlow pipeline does on the fly is done here once, before training:
  - L from the packed JPEG crops with skimage.color.rgb2lab (tests check that our colour
    module agrees with scikit-image to 0.05);
  - the soft colour targets from the packed ab with `soft_encode` below, in keras.ops
    (tests check it against colorization.bins.soft_encode).
Augmentation is a random horizontal flip. Training stops after --steps or --seconds,
whichever comes first, and writes:
  --output_dir/metrics.json        steps, images/s after compilation, loss history, devices,
                                   settings, and the list of weight shards;
  --output_dir/weights-K-of-N.npz  the weights in float16, in shards of at most 15 MiB, as
                                   many as fit what one device call brings back (6 files,
                                   56 MiB); the paper layout needs 5 (72 MiB), so the last
                                   go to --spill_dir, and `gpu_train.sh fetch` brings them;
  --spill_dir/model.weights.h5     the float32 weights, for a machine that keeps its files.
Back here, `python -m benchmarks.gpu_weights --run_dir=DIR --output=model.keras` rebuilds the
model from the shards for evaluation, export or --init_from.
"""

import concurrent.futures
import io
import json
import os
import time

import keras
import numpy as np
from absl import flags

from colorization import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("pack", "gpu_pack/voc_train_224.npz", "Pack written by gpu_pack.")
    flags.DEFINE_string("output_dir", None, "Where metrics and weight shards go.")
    flags.DEFINE_string("spill_dir", "/tmp/gpu_train_spill", "Shards that do not fit go here.")
    flags.DEFINE_integer("max_files_back", 6, "Most weight shards in --output_dir.", lower_bound=1)
    flags.DEFINE_float("max_mb_back", 56.0, "Most MiB of weight shards in --output_dir.")
    flags.DEFINE_float("width_multiplier", 1.0, "Width multiplier (1.0 = the paper's layout).")
    flags.DEFINE_list("fc_units", ["1024", "512", "256"], "fc1,fc2,fc3 widths.")
    flags.DEFINE_integer("batch_size", 64, "Batch size.", lower_bound=1)
    flags.DEFINE_integer("steps", 100_000, "Most optimizer steps.", lower_bound=1)
    flags.DEFINE_float("seconds", 360.0, "Stop training after this many seconds.", lower_bound=1)
    flags.DEFINE_float("learning_rate", 5e-4, "Peak Adam learning rate.", lower_bound=0)
    flags.DEFINE_integer("warmup_steps", 200, "Linear warm-up steps.", lower_bound=0)
    flags.DEFINE_float("class_loss_weight", 0.05, "Weight of the class loss.", lower_bound=0)
    flags.DEFINE_integer("num_neighbors", 5, "k of the soft colour targets.", lower_bound=1)
    flags.DEFINE_enum(
        "dtype_policy", "mixed_bfloat16", ["float32", "mixed_bfloat16", "mixed_float16"], "Policy."
    )
    flags.DEFINE_integer("seed", 0, "Seed of initialisation, order and flips.")
    flags.mark_flag_as_required("output_dir")


def load_pack(path):
    """The arrays of a pack; raises ValueError naming what is missing."""
    required = ("jpeg_bytes", "jpeg_offsets", "target_ab", "labels", "bin_centers", "bin_weights")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in (*required, "metadata")}
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(
            f"Cannot read pack {path!r}: expected an .npz from benchmarks.gpu_pack with "
            f"{', '.join(required)} ({e})."
        ) from e
    arrays["metadata"] = json.loads(str(arrays["metadata"]))
    return arrays


def decode_lightness(jpeg_bytes, offsets, workers=None):
    """L (N, S, S, 1) float32 in [0, 100] of the packed JPEG crops."""
    from PIL import Image
    from skimage import color as skcolor

    def one(i):
        data = jpeg_bytes[offsets[i] : offsets[i + 1]].tobytes()
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        return skcolor.rgb2lab(rgb)[..., :1].astype(np.float32)

    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        return np.stack(list(pool.map(one, range(len(offsets) - 1))))


def soft_encode(ab, centers, num_neighbors=5, sigma=5.0):
    """k nearest bins of each ab and their Gaussian weights, in keras.ops (any backend).

    Args:
      ab: float (..., 2) ab values; centers: (313, 2) bin centres.

    Returns:
      (indices int32 (..., k) nearest first, probs float32 (..., k) summing to 1).
    """
    ops = keras.ops
    ab = ops.cast(ab, "float32")
    centers = ops.cast(centers, "float32")
    flat = ops.reshape(ab, (-1, 2))
    sq_dist = (
        ops.sum(flat**2, axis=-1, keepdims=True)
        - 2.0 * ops.matmul(flat, ops.transpose(centers))
        + ops.sum(centers**2, axis=-1)[None, :]
    )
    neg_dist, indices = ops.top_k(-sq_dist, num_neighbors)
    # Nearest distance subtracted before exp(): finite for any ab, cancels when normalised.
    probs = ops.softmax((neg_dist - neg_dist[:, :1]) / (2.0 * sigma * sigma), axis=-1)
    shape = tuple(ab.shape[:-1]) + (num_neighbors,)
    return ops.reshape(ops.cast(indices, "int32"), shape), ops.reshape(probs, shape)


def packed_targets(target_ab, centers, weights, num_neighbors, chunk=256):
    """(N, h, w, 2k + 1) float32 colour targets for colorization.losses, in chunks."""
    from colorization import losses

    ops = keras.ops
    parts = []
    for start in range(0, len(target_ab), chunk):
        indices, probs = soft_encode(target_ab[start : start + chunk], centers, num_neighbors)
        weight = ops.take(ops.convert_to_tensor(weights), indices[..., 0])
        parts.append(ops.convert_to_numpy(losses.pack_color_target(indices, probs, weight)))
    return np.concatenate(parts)


def batches(lightness, targets, labels, batch_size, seed):
    """Endless random batches ({"L"}, {"color_logits", "class_logits"}) with random flips."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(labels))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            index = np.sort(order[start : start + batch_size])
            x, y = lightness[index], targets[index]
            flip = rng.random(batch_size) < 0.5
            x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
            yield x, {"color_logits": y, "class_logits": labels[index]}


class TimeBudget(keras.callbacks.Callback):
    """Stops training after `seconds`; times every step and keeps the logs every 50 steps."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.step_times, self.history = [], []
        self._start = self._last = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._last is not None:
            self.step_times.append(now - self._last)
        self._last = now
        step = int(self.model.optimizer.iterations)
        if logs and step % 50 == 0:
            self.history.append({"step": step, **{k: float(v) for k, v in logs.items()}})
        if now - self._start > self.seconds:
            self.model.stop_training = True


SHARD_BYTES = 15 * 2**20


def probe_input(size):
    """A fixed L image (a horizontal ramp 0..100) for checking weights across backends."""
    ramp = np.linspace(0.0, 100.0, size, dtype=np.float32)
    return np.broadcast_to(ramp[None, None, :, None], (1, size, size, 1)).copy()


def write_weight_shards(
    model, output_dir, spill_dir, max_files, max_bytes, shard_bytes=SHARD_BYTES
):
    """Writes every model variable in float16 as weights-K-of-N.npz shards (key "vI" = the
    I-th of model.weights). Shards go to output_dir while max_files and max_bytes allow, the
    rest to spill_dir. Returns {shard file name: "out" or "spill"}."""
    arrays = [keras.ops.convert_to_numpy(v.value).astype(np.float16) for v in model.weights]
    groups, current, size = [], {}, 0
    for index, array in enumerate(arrays):
        if array.nbytes > shard_bytes:
            raise ValueError(
                f"Variable {model.weights[index].path} has {array.nbytes} bytes in float16, "
                f"more than a shard ({shard_bytes})."
            )
        if current and size + array.nbytes > shard_bytes:
            groups.append(current)
            current, size = {}, 0
        current[f"v{index}"] = array
        size += array.nbytes
    groups.append(current)
    places, sent_bytes = {}, 0
    for k, group in enumerate(groups):
        name = f"weights-{k + 1:02d}-of-{len(groups):02d}.npz"
        nbytes = sum(a.nbytes for a in group.values())
        fits = len(places) < max_files and sent_bytes + nbytes <= max_bytes
        if fits and all(place == "out" for place in places.values()):
            places[name], sent_bytes = "out", sent_bytes + nbytes
        else:
            places[name] = "spill"
        np.savez(os.path.join(output_dir if places[name] == "out" else spill_dir, name), **group)
    return places


def read_weight_shards(model, directory):
    """Assigns the weights of every weights-*-of-N.npz in `directory` to `model` (same layout)."""
    names = sorted(
        n for n in os.listdir(directory) if n.startswith("weights-") and n.endswith(".npz")
    )
    if not names:
        raise ValueError(f"No weights-K-of-N.npz shards in {directory!r}.")
    expected = int(names[0].split("-of-")[1].split(".")[0])
    if len(names) != expected:
        raise ValueError(
            f"{directory!r} holds {len(names)} of {expected} weight shards ({', '.join(names)}); "
            "bring the spilled ones with `bash benchmarks/gpu_train.sh fetch`."
        )
    values = {}
    for name in names:
        with np.load(os.path.join(directory, name)) as data:
            values.update({int(key[1:]): data[key] for key in data.files})
    if sorted(values) != list(range(len(model.weights))):
        raise ValueError(
            f"The shards hold {len(values)} variables; the model has {len(model.weights)}: "
            "build it with the ModelConfig from metrics.json."
        )
    for index, variable in enumerate(model.weights):
        if tuple(values[index].shape) != tuple(variable.shape):
            raise ValueError(
                f"Shape mismatch for {variable.path}: shard {values[index].shape}, "
                f"model {tuple(variable.shape)}."
            )
        variable.assign(values[index].astype(variable.dtype))


def main(argv):
    del argv
    from colorization import losses
    from colorization.config import ModelConfig, TrainConfig, parse_fc_units
    from colorization.model import build_model
    from colorization.optimizer import build_optimizer

    try:
        pack = load_pack(FLAGS.pack)
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    size = int(pack["metadata"]["image_size"])
    # Both configs validate the flags before any data is prepared.
    try:
        config = ModelConfig(
            image_size=size,
            width_multiplier=FLAGS.width_multiplier,
            fc_units=parse_fc_units(FLAGS.fc_units),
            dtype_policy=FLAGS.dtype_policy,
        )
        train_config = TrainConfig(
            model=config,
            model_dir=FLAGS.output_dir,
            batch_size=FLAGS.batch_size,
            steps=FLAGS.steps,
            learning_rate=FLAGS.learning_rate,
            warmup_steps=FLAGS.warmup_steps,
            class_loss_weight=FLAGS.class_loss_weight,
            num_neighbors=FLAGS.num_neighbors,
            seed=FLAGS.seed,
        )
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    keras.utils.set_random_seed(FLAGS.seed)
    start = time.perf_counter()
    lightness = decode_lightness(pack["jpeg_bytes"], pack["jpeg_offsets"])
    targets = packed_targets(
        pack["target_ab"], pack["bin_centers"], pack["bin_weights"], FLAGS.num_neighbors
    )
    labels = pack["labels"].astype(np.int32)
    prep_s = time.perf_counter() - start
    print(f"{len(labels)} photos at {size}x{size} prepared in {prep_s:.1f} s", flush=True)

    model = build_model(config)
    loss, loss_weights, metrics = losses.build_losses(
        config, train_config.neighbors, train_config.class_loss_weight
    )
    model.compile(
        build_optimizer(train_config), loss=loss, loss_weights=loss_weights, metrics=metrics
    )
    budget = TimeBudget(FLAGS.seconds)
    steps_per_epoch = min(200, FLAGS.steps)
    epochs = -(-FLAGS.steps // steps_per_epoch)
    train_start = time.perf_counter()
    model.fit(
        batches(lightness, targets, labels, FLAGS.batch_size, FLAGS.seed),
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        callbacks=[budget],
        shuffle=False,  # `batches` shuffles
        verbose=2,
    )
    wall = time.perf_counter() - train_start
    steps = int(model.optimizer.iterations)
    # A fixed input's logits: the TensorFlow model rebuilt from the shards must reproduce them.
    probe = model(probe_input(size), training=False)["color_logits"]
    os.makedirs(FLAGS.spill_dir, exist_ok=True)
    model.save_weights(os.path.join(FLAGS.spill_dir, "model.weights.h5"))
    shards = write_weight_shards(
        model, FLAGS.output_dir, FLAGS.spill_dir, FLAGS.max_files_back, FLAGS.max_mb_back * 2**20
    )
    timed = budget.step_times[2:] or budget.step_times
    summary = {
        "backend": keras.backend.backend(),
        "devices": _devices(),
        "model": config.to_dict(),
        "pack": pack["metadata"],
        "steps": steps,
        "batch_size": FLAGS.batch_size,
        "images_per_s": FLAGS.batch_size / float(np.median(timed)) if timed else None,
        "prepare_s": prep_s,
        "train_wall_s": wall,
        "history": budget.history,
        "weight_shards": shards,
        "probe_color_logits": keras.ops.convert_to_numpy(probe)[0, :2, :2, :8].tolist(),
        "flags": {
            name: FLAGS[name].value
            for name in (
                "learning_rate",
                "warmup_steps",
                "seconds",
                "class_loss_weight",
                "num_neighbors",
                "seed",
            )
        },
    }
    with open(os.path.join(FLAGS.output_dir, "metrics.json"), "w") as f:
        json.dump(summary, f, indent=2, default=float)
    spilled = [name for name, place in shards.items() if place == "spill"]
    print(
        f"{steps} steps in {wall:.0f} s, {summary['images_per_s'] or 0:.1f} images/s; "
        f"{len(shards)} weight shard(s)"
        + (f", {len(spilled)} in {FLAGS.spill_dir} (gpu_train.sh fetch)" if spilled else "")
    )


def _devices():
    try:
        import jax

        return [str(d) for d in jax.devices()]
    except ImportError:
        return [keras.backend.backend()]


if __name__ == "__main__":
    cli.run(main, define_flags)
