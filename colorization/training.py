"""Training library behind train_main.py: one validated `TrainConfig` in, a trained model
directory out.

A model directory holds everything needed to resume, evaluate or export with no flag
repeated:
    config.json           the TrainConfig (with its ModelConfig)
    priors.npz            the bin priors the colour loss was weighted with
    checkpoints/          tf.train checkpoints (model + optimizer + step), every N steps
    model.keras           the final model
    logs/                 TensorBoard: losses, learning rate, class accuracy, colour metrics,
                          image grids (grey | prediction | truth)
    samples.png           the last evaluation's image grid
    summary.json          flags, steps, final metrics, wall time
"""

import dataclasses
import json
import logging
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from colorization import bins, color, inference, losses, metrics
from colorization.config import ModelConfig
from colorization.model import build_model, count_flops
from data_prep import pipeline, priors, sources

log = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes:
      model: the `ModelConfig`.
      dataset: training source spec (see data_prep.sources).
      val_dataset: evaluation source spec; "" = the training spec's validation split.
      train_split, val_split: split names.
      data_dir: TFDS data directory.
      model_dir: output directory (created; reused to resume).
      batch_size: global batch size.
      steps: total optimizer steps.
      learning_rate: peak learning rate of Adam.
      schedule: "constant" or "cosine" (cosine decay to 1 % after the warm-up).
      warmup_steps: linear warm-up from 0.
      beta_1, beta_2: Adam's betas (the reference used 0.9, 0.99).
      weight_decay: decoupled weight decay (0 = off).
      class_loss_weight: weight of the class loss; the colour loss has weight 1.
      encoding, num_neighbors: colour targets: "soft" with k neighbours, or "hard".
      priors_path: priors .npz; "" = compute on the training set and save in model_dir.
      mix_lambda: lambda of the rebalancing when priors are computed.
      strategy: "default", "mirrored", "multi_worker" (reads TF_CONFIG) or "tpu".
      tpu: TPU address for the tpu strategy.
      seed: seeds initialisation, shuffling and augmentation.
      checkpoint_every: steps between checkpoints (and Keras epochs).
      eval_every: steps between evaluations; a multiple of checkpoint_every.
      eval_examples: validation images per periodic evaluation (0 = all).
      temperature: annealed-mean temperature for evaluation images and metrics.
      cache: keep decoded training images in memory.
      min_crop_area: smallest area fraction of a training crop.
      init_from: .keras or .weights.h5 to warm-start from, matched by layer name.
      keep_checkpoints: how many checkpoints to keep.
    """

    model: ModelConfig = ModelConfig()
    dataset: str = "skimage"
    val_dataset: str = ""
    train_split: str = "train"
    val_split: str = "val"
    data_dir: str | None = None
    model_dir: str = "runs/default"
    batch_size: int = 32
    steps: int = 1000
    learning_rate: float = 3e-5
    schedule: str = "cosine"
    warmup_steps: int = 0
    beta_1: float = 0.9
    beta_2: float = 0.99
    weight_decay: float = 0.0
    class_loss_weight: float = 0.003
    encoding: str = "soft"
    num_neighbors: int = 5
    priors_path: str = ""
    mix_lambda: float = 0.5
    strategy: str = "default"
    tpu: str = ""
    seed: int = 0
    checkpoint_every: int = 100
    eval_every: int = 500
    eval_examples: int = 256
    temperature: float = bins.DEFAULT_TEMPERATURE
    cache: bool = False
    min_crop_area: float = 0.25
    init_from: str = ""
    keep_checkpoints: int = 3

    def __post_init__(self):
        def check(ok, message):
            if not ok:
                raise ValueError(message)

        check(
            self.batch_size >= 1, f"batch_size must be >= 1. Received: batch_size={self.batch_size}"
        )
        check(self.steps >= 1, f"steps must be >= 1. Received: steps={self.steps}")
        check(self.learning_rate > 0, f"learning_rate must be > 0. Received: {self.learning_rate}")
        check(
            self.schedule in SCHEDULES,
            f"schedule must be one of {SCHEDULES}. Received: {self.schedule!r}",
        )
        check(
            0 <= self.warmup_steps < self.steps,
            f"warmup_steps must be in [0, steps={self.steps}). Received: {self.warmup_steps}",
        )
        check(
            0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1,
            f"betas must be in [0, 1). Received: {self.beta_1}, {self.beta_2}",
        )
        check(self.weight_decay >= 0, f"weight_decay must be >= 0. Received: {self.weight_decay}")
        check(
            self.class_loss_weight >= 0,
            f"class_loss_weight must be >= 0. Received: {self.class_loss_weight}",
        )
        check(
            self.encoding in ("soft", "hard"),
            f"encoding must be soft or hard. Received: {self.encoding!r}",
        )
        check(
            1 <= self.num_neighbors <= 313,
            f"num_neighbors must be in [1, 313]. Received: {self.num_neighbors}",
        )
        check(
            self.strategy in STRATEGIES,
            f"strategy must be one of {STRATEGIES}. Received: {self.strategy!r}",
        )
        check(
            self.checkpoint_every >= 1,
            f"checkpoint_every must be >= 1. Received: {self.checkpoint_every}",
        )
        check(
            self.eval_every >= 1 and self.eval_every % self.checkpoint_every == 0,
            f"eval_every must be a positive multiple of checkpoint_every={self.checkpoint_every}. "
            f"Received: eval_every={self.eval_every}",
        )
        check(self.temperature > 0, f"temperature must be > 0. Received: {self.temperature}")
        check(
            0 <= self.mix_lambda <= 1, f"mix_lambda must be in [0, 1]. Received: {self.mix_lambda}"
        )
        check(
            self.keep_checkpoints >= 1,
            f"keep_checkpoints must be >= 1. Received: {self.keep_checkpoints}",
        )
        check(bool(self.model_dir), "model_dir must not be empty.")
        for name in ("priors_path", "init_from"):
            path = getattr(self, name)
            check(not path or os.path.exists(path), f"{name} {path!r} does not exist.")
        check(
            not self.init_from or self.init_from.endswith((".keras", ".weights.h5")),
            f"init_from must be a .keras or .weights.h5 file. Received: {self.init_from!r}",
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        values["model"] = ModelConfig.from_dict(values["model"])
        return cls(**values)

    @property
    def neighbors(self):
        return 1 if self.encoding == "hard" else self.num_neighbors


def make_strategy(name, tpu=""):
    """The tf.distribute strategy for `name`."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        # Reads the cluster and this task's role from the TF_CONFIG environment variable.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True on the task that writes the model directory (task 0 of multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )


def learning_rate_schedule(config):
    if config.schedule == "constant" and not config.warmup_steps:
        return config.learning_rate
    decay_steps = max(config.steps - config.warmup_steps, 1)
    alpha = 1.0 if config.schedule == "constant" else 0.01
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if config.warmup_steps else config.learning_rate,
        decay_steps=decay_steps,
        alpha=alpha,
        warmup_target=config.learning_rate if config.warmup_steps else None,
        warmup_steps=config.warmup_steps,
    )


def build_optimizer(config):
    return keras.optimizers.Adam(
        learning_rate=learning_rate_schedule(config),
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        weight_decay=config.weight_decay or None,
    )


def _weights_by_layer(path):
    """{layer name: [arrays]} from a .keras or .weights.h5 file, read with h5py."""
    import io
    import zipfile

    import h5py

    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            handle = io.BytesIO(archive.read("model.weights.h5"))
    else:
        handle = path
    found = {}
    with h5py.File(handle, "r") as f:
        layers_group = f.get("layers") or f.get("_layer_checkpoint_dependencies") or f

        def collect(name, group):
            variables = group.get("vars") if isinstance(group, h5py.Group) else None
            if variables is not None and len(variables):
                key = name.split("/")[0]
                found[key] = [variables[str(i)][()] for i in range(len(variables))]

        for name in layers_group:
            collect(name, layers_group[name])
    return found


def warm_start(model, path):
    """Loads weights by layer name where names and shapes match.

    Returns:
      (loaded layer names, {layer name: reason it was not loaded}).
    """
    source = _weights_by_layer(path)
    loaded, skipped = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        arrays = source.get(layer.name)
        if arrays is None:
            skipped[layer.name] = "not in source"
            continue
        shapes = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != shapes:
            skipped[layer.name] = f"shape {[a.shape for a in arrays]} != {shapes}"
            continue
        layer.set_weights(arrays)
        loaded.append(layer.name)
    return loaded, skipped


def image_grid(grey, predicted, truth, max_rows=6):
    """uint8 grid (rows * H, 3 * W, 3): grey input | prediction | ground truth per row."""
    rows = [
        np.concatenate([g, p, t], axis=1) for g, p, t in zip(grey, predicted, truth, strict=False)
    ]
    return np.concatenate(rows[:max_rows], axis=0)


def evaluate_batches(model, dataset, temperature, max_examples=0, with_grey=True, collect_images=6):
    """Colour (and class) metrics of `model` on an evaluation dataset with "rgb" features.

    Returns:
      {"model": {...}, "grey": {...}, "class": {...}}, and the image-grid rows (grey,
      predicted, truth) of the first `collect_images` images as uint8.
    """
    model_metrics, grey_metrics, class_metrics = (
        metrics.ColorMetrics(),
        metrics.ColorMetrics(),
        metrics.ClassMetrics(),
    )
    images = ([], [], [])
    seen = 0
    for features, targets in dataset:
        if max_examples and seen >= max_examples:
            break
        outputs = model(features["L"], training=False)
        rgb_pred, ab_pred = inference.compose_rgb(
            features["L"], outputs["color_logits"], temperature
        )
        true_lab = color.rgb_to_lab(features["rgb"])
        true_u8 = inference.to_uint8(features["rgb"]).numpy()
        pred_u8 = inference.to_uint8(rgb_pred).numpy()
        model_metrics.update(ab_pred.numpy(), true_lab[..., 1:].numpy(), pred_u8, true_u8)
        grey_u8 = inference.to_uint8(color.lightness_to_rgb(features["L"])).numpy()
        if with_grey:
            grey_metrics.update(
                np.zeros_like(ab_pred.numpy()), true_lab[..., 1:].numpy(), grey_u8, true_u8
            )
        if "class_logits" in outputs and targets["class_logits"].shape.rank == 1:
            labels = targets["class_logits"].numpy()
            multi_hot = np.eye(outputs["class_logits"].shape[-1])[np.maximum(labels, 0)] * (
                labels[:, None] >= 0
            )
            class_metrics.update(outputs["class_logits"].numpy(), labels, multi_hot)
        elif "class_logits" in outputs:
            multi_hot = targets["class_logits"].numpy()
            labels = np.where(multi_hot.max(-1) > 0, multi_hot.argmax(-1), -1)
            class_metrics.update(outputs["class_logits"].numpy(), labels, multi_hot)
        for store, batch in zip(images, (grey_u8, pred_u8, true_u8), strict=True):
            store.extend(batch[: max(collect_images - len(store), 0)])
        seen += features["L"].shape[0]
    result = {"model": model_metrics.result(), "class": class_metrics.result()}
    if with_grey:
        result["grey"] = grey_metrics.result()
    return result, images


class EvaluationCallback(keras.callbacks.Callback):
    """Every `eval_every` steps: colour metrics, grey baseline and an image grid, written to
    TensorBoard and to samples.png."""

    def __init__(self, config, dataset, writer, model_dir, write_files):
        super().__init__()
        self.config = config
        self.dataset = dataset
        self.writer = writer
        self.model_dir = model_dir
        self.write_files = write_files
        self.last = None

    def run(self, step):
        result, (grey, predicted, truth) = evaluate_batches(
            self.model, self.dataset, self.config.temperature, self.config.eval_examples
        )
        self.last = result
        grid = image_grid(grey, predicted, truth)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for group in ("model", "grey"):
                    for key in ("auc", "rebalanced_auc", "psnr", "colorfulness_ratio"):
                        tf.summary.scalar(f"val_{group}/{key}", result[group][key])
                for key, value in result["class"].items():
                    tf.summary.scalar(f"val_class/{key}", value)
                tf.summary.image("val/grey_prediction_truth", grid[None], max_outputs=1)
            self.writer.flush()
        if self.write_files:
            tf.io.write_file(os.path.join(self.model_dir, "samples.png"), tf.io.encode_png(grid))
        m, g = result["model"], result["grey"]
        print(
            f"\n[eval step {step}] AuC {m['auc']:.2f} (grey {g['auc']:.2f})  rebalanced AuC "
            f"{m['rebalanced_auc']:.2f} (grey {g['rebalanced_auc']:.2f})  PSNR {m['psnr']:.2f} "
            f"(grey {g['psnr']:.2f})  colourfulness {100 * m['colorfulness_ratio']:.0f}% of truth"
            + (
                f"  class top-1 {result['class']['top1_accuracy']:.1f}%"
                if "top1_accuracy" in result["class"]
                else ""
            ),
            flush=True,
        )
        return result

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.config.eval_every == 0 or step >= self.config.steps:
            self.run(step)


class CheckpointCallback(keras.callbacks.Callback):
    """Saves model, optimizer and step every Keras epoch (= checkpoint_every steps).

    tf.train.CheckpointManager writes the index file last, so a run killed mid-write leaves
    the previous checkpoint intact and `latest_checkpoint` never points at a partial one.
    """

    def __init__(self, manager, learning_rate_writer=None):
        super().__init__()
        self.manager = manager
        self.writer = learning_rate_writer

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.manager.save(checkpoint_number=step)
        if self.writer is not None:
            optimizer = self.model.optimizer
            with self.writer.as_default(step=step):
                tf.summary.scalar("learning_rate", float(optimizer.learning_rate))
                for key, value in (logs or {}).items():
                    tf.summary.scalar(f"train/{key}", value)
            self.writer.flush()


def _pipeline_config(config, training):
    return pipeline.PipelineConfig(
        image_size=config.model.image_size,
        batch_size=config.batch_size,
        training=training,
        encoding=config.encoding,
        num_neighbors=config.num_neighbors,
        multi_label=config.model.class_loss == "sigmoid",
        seed=config.seed,
        deterministic=True,
        cache=config.cache and training,
        min_crop_area=config.min_crop_area,
        with_rgb=not training,
    )


def load_or_compute_priors(config, source, model_dir, write_files):
    """The priors to weight the colour loss with (saved in model_dir either way)."""
    target = os.path.join(model_dir, "priors.npz")
    if config.priors_path:
        result = priors.Priors.load(config.priors_path)
    elif tf.io.gfile.exists(target):
        return priors.Priors.load(target)
    else:
        print(f"Computing colour priors on {source.name} ...", flush=True)
        rgb = pipeline.target_rgb_dataset(source, config.model.image_size)
        result = priors.compute_priors(
            rgb,
            mix_lambda=config.mix_lambda,
            metadata={"dataset": config.dataset, "image_size": config.model.image_size},
        )
    if write_files:
        result.save(target)
    return result


def _val_source(config):
    spec = config.val_dataset or config.dataset
    split = config.val_split
    if spec == "skimage" or spec.startswith("folder:"):
        split = "train"  # these sources have a single split
    try:
        return sources.load_source(spec, split, config.data_dir)
    except sources.SourceError as e:
        log.warning("No validation source (%s); evaluating on the training source.", e)
        return sources.load_source(config.dataset, config.train_split, config.data_dir)


def train(config):
    """Trains (or resumes) according to `config`; returns the summary dict."""
    start = time.time()
    keras.utils.set_random_seed(config.seed)
    strategy = make_strategy(config.strategy, config.tpu)
    chief = is_chief(strategy)
    # Non-chief workers write to a private directory that is thrown away.
    model_dir = (
        config.model_dir if chief else os.path.join(config.model_dir, f".worker_{os.getpid()}")
    )
    tf.io.gfile.makedirs(model_dir)
    config_path = os.path.join(model_dir, "config.json")
    if chief:
        with tf.io.gfile.GFile(config_path, "w") as f:
            json.dump(config.to_dict(), f, indent=2)

    train_source = sources.load_source(config.dataset, config.train_split, config.data_dir)
    val_source = _val_source(config)
    print(train_source.summary(), flush=True)
    prior = load_or_compute_priors(config, train_source, model_dir, chief)

    checkpoint_dir = os.path.join(model_dir, "checkpoints")
    with strategy.scope():
        model = build_model(config.model)
        optimizer = build_optimizer(config)
        loss, loss_weights, model_metrics = losses.build_losses(
            config.model, config.neighbors, config.class_loss_weight
        )
        model.compile(
            optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=model_metrics
        )
        optimizer.build(model.trainable_variables)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, config.keep_checkpoints)
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            print(f"Resumed from {manager.latest_checkpoint}", flush=True)
        elif config.init_from:
            loaded, skipped = warm_start(model, config.init_from)
            print(f"Warm start from {config.init_from}: loaded {len(loaded)} layers: {loaded}")
            print(f"  not loaded ({len(skipped)}): {skipped}", flush=True)
    step = int(optimizer.iterations.numpy())
    print(
        f"Model: {model.count_params():,} parameters, {count_flops(model) / 1e9:.2f} GFLOPs/image "
        f"at {config.model.image_size}x{config.model.image_size}; starting at step {step}/{config.steps}",
        flush=True,
    )

    train_config = _pipeline_config(config, training=True)
    train_data = pipeline.build_dataset(
        train_source, train_config, prior.weights, start_example=step * config.batch_size
    ).map(lambda features, targets: (features["L"], targets))
    val_data = pipeline.build_dataset(
        val_source, _pipeline_config(config, training=False), prior.weights
    )
    if config.strategy == "multi_worker":
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        train_data = train_data.with_options(options)

    writer = tf.summary.create_file_writer(os.path.join(model_dir, "logs")) if chief else None
    evaluation = EvaluationCallback(config, val_data, writer, model_dir, chief)
    callbacks = [
        CheckpointCallback(manager, writer),
        keras.callbacks.TensorBoard(
            os.path.join(model_dir, "logs"), update_freq=config.checkpoint_every
        ),
        evaluation,
    ]
    total_epochs = -(-config.steps // config.checkpoint_every)
    initial_epoch = step // config.checkpoint_every
    history = {}
    if step < config.steps:
        fit = model.fit(
            train_data,
            epochs=total_epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=config.checkpoint_every,
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,
        )
        history = {k: [float(x) for x in v] for k, v in fit.history.items()}
    final = evaluation.last or evaluation.run(int(optimizer.iterations.numpy()))

    summary = {
        "config": config.to_dict(),
        "steps": int(optimizer.iterations.numpy()),
        "resumed_from_step": step,
        "wall_time_s": time.time() - start,
        "parameters": int(model.count_params()),
        "gflops_per_image": count_flops(model) / 1e9,
        "train_source": train_source.summary(),
        "val_source": val_source.summary(),
        "final_losses": {k: v[-1] for k, v in history.items()},
        "val_metrics": final,
    }
    if chief:
        model.save(os.path.join(model_dir, "model.keras"))
        with tf.io.gfile.GFile(os.path.join(model_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(f"Wrote {model_dir}/model.keras, summary.json, samples.png", flush=True)
    return summary


def load_model_dir(path):
    """(model, TrainConfig or None) from a training model_dir, a .keras file or a checkpoint."""
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False), None
    if tf.io.gfile.isdir(path):
        with tf.io.gfile.GFile(os.path.join(path, "config.json")) as f:
            config = TrainConfig.from_dict(json.load(f))
        final = os.path.join(path, "model.keras")
        if tf.io.gfile.exists(final):
            return keras.saving.load_model(final, compile=False), config
        latest = tf.train.latest_checkpoint(os.path.join(path, "checkpoints"))
        if latest is None:
            raise ValueError(f"{path!r} holds neither model.keras nor a checkpoint.")
        path = latest
    # A checkpoint prefix inside a model_dir/checkpoints folder.
    model_dir = os.path.dirname(os.path.dirname(path))
    with tf.io.gfile.GFile(os.path.join(model_dir, "config.json")) as f:
        config = TrainConfig.from_dict(json.load(f))
    model = build_model(config.model)
    tf.train.Checkpoint(model=model).restore(path).expect_partial()
    return model, config
