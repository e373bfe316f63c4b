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
import re
import sys
import time

import keras
import tensorflow as tf

from colorization import evaluation, imagenet_weights, losses
from colorization.config import TrainConfig
from colorization.model import build_model, count_flops
from colorization.optimizer import build_optimizer
from data_prep import pipeline, priors, sources

log = logging.getLogger(__name__)


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


def _snake_case(name):
    """Keras' key for a class name in weight files: Conv2DTranspose -> conv2d_transpose."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_file_keys(model):
    """{layer name: key} as Keras names layers inside a .weights.h5 file (class name plus a
    per-class counter, in model.layers order)."""
    counters, keys = {}, {}
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        count = counters.get(base, -1) + 1
        counters[base] = count
        keys[layer.name] = base if count == 0 else f"{base}_{count}"
    return keys


def _arrays_from_weights_file(path, model):
    """{layer name: [arrays]} of a .weights.h5 whose layout equals `model`'s; else ValueError.

    Such a file stores layers by class-name counters, not by name, so it can only be mapped
    onto a model of the same architecture.
    """
    import h5py

    found = {}
    keys = _weight_file_keys(model)
    with h5py.File(path, "r") as f:
        group = f.get("layers")
        for layer in model.layers:
            if not layer.weights:
                continue
            key = keys[layer.name]
            variables = group.get(f"{key}/vars") if group is not None else None
            arrays = (
                [variables[str(i)][()] for i in range(len(variables))]
                if variables is not None
                else []
            )
            if [a.shape for a in arrays] != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(
                    f"{path} is a .weights.h5 file, which holds no layer names, and its layout "
                    f"differs from this model's at layer {layer.name!r}. Warm-start a model with "
                    "a different head from a .keras file, which is matched by layer name."
                )
            found[layer.name] = arrays
    return found


def warm_start(model, path):
    """Loads weights into `model` by layer name where names and shapes match.

    A .keras file is matched by layer name (any head); a .weights.h5 file only onto the same
    architecture (it holds no names).

    Returns:
      (loaded layer names, {layer name: reason it was not loaded}).
    """
    if path.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False)
        arrays = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    else:
        arrays = _arrays_from_weights_file(path, model)
    loaded, skipped = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        values = arrays.get(layer.name)
        if values is None:
            skipped[layer.name] = "not in source"
            continue
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            skipped[layer.name] = f"shape {[v.shape for v in values]} != {shapes}"
            continue
        layer.set_weights(values)
        loaded.append(layer.name)
    return loaded, skipped


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
        evaluated = evaluation.evaluate_models(
            {"model": self.model},
            self.dataset,
            self.config.temperature,
            self.config.eval_examples,
            keep_images=6,
        )
        result = {
            "model": evaluated["metrics"]["model"],
            "grey": evaluated["metrics"][evaluation.GREY],
            "class": evaluated["class"]["model"],
        }
        self.last = result
        images = evaluated["images"]
        grid = evaluation.image_grid([images[evaluation.GREY], images["model"], images["truth"]])
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
    with_splits = [p for p in sources.split_spec(spec) if sources.has_splits(p)]
    if with_splits:
        # Only the parts with a held-out split are evaluated (folder: parts have none).
        spec = ",".join(with_splits)
    else:
        split = "train"  # these sources have a single split
    try:
        return sources.load_source(spec, split, config.data_dir)
    except sources.SourceError as e:
        log.warning("No validation source (%s); evaluating on the training source.", e)
        return sources.load_source(config.dataset, config.train_split, config.data_dir)


def train(config):
    """Trains (or resumes) according to `config`; returns the summary dict."""
    start = time.time()
    config.check_files()
    pretrained = None
    if config.init_from.startswith(imagenet_weights.TFLITE_PREFIX) or (
        config.init_from == imagenet_weights.IMAGENET
    ):
        # Read (or downloaded) and validated before any data is touched.
        pretrained = imagenet_weights.fetch_pretrained(config.init_from, config.model.backbone)
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

    train_source = sources.load_source(
        config.dataset, config.train_split, config.data_dir, seed=config.seed
    )
    val_source = _val_source(config)
    print(train_source.summary(), flush=True)
    prior = load_or_compute_priors(config, train_source, model_dir, chief)

    checkpoint_dir = os.path.join(model_dir, "checkpoints")
    model_config = config.model
    if strategy.num_replicas_in_sync > 1 and not model_config.sync_batch_norm:
        # Replicas must agree on batch-norm statistics, or their weights drift apart.
        model_config = dataclasses.replace(model_config, sync_batch_norm=True)
        print(f"{strategy.num_replicas_in_sync} replicas: synchronized batch norm.", flush=True)
    with strategy.scope():
        model = build_model(model_config)
        optimizer = build_optimizer(config)
        loss, loss_weights, model_metrics = losses.build_losses(
            config.model, config.neighbors, config.class_loss_weight
        )
        model.compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=model_metrics,
            jit_compile=config.keras_jit_compile,
        )
        optimizer.build(model.trainable_variables)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, config.keep_checkpoints)
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            print(f"Resumed from {manager.latest_checkpoint}", flush=True)
        elif pretrained is not None:
            imagenet_weights.load_imagenet_weights(
                model, config.init_from, config.model.backbone, reference=pretrained
            )
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
    if step < config.steps and config.strategy == "multi_worker":
        # Keras' TensorBoard callback needs fit()'s internals; CheckpointCallback logs the
        # training losses and learning rate in this loop instead.
        own = [c for c in callbacks if not isinstance(c, keras.callbacks.TensorBoard)]
        history = _distributed_loop(
            model, optimizer, loss, loss_weights, strategy, train_data, config, own
        )
    elif step < config.steps:
        fit = model.fit(
            train_data,
            epochs=total_epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=config.checkpoint_every,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipeline shuffles (seeded, resumable)
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
    # Every task saves its final model (workers into their private directory), so that
    # multi-worker runs can be checked for identical weights.
    model.save(os.path.join(model_dir, "model.keras"))
    if chief:
        with tf.io.gfile.GFile(os.path.join(model_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(f"Wrote {model_dir}/model.keras, summary.json, samples.png", flush=True)
    return summary


def _distributed_loop(model, optimizer, loss, loss_weights, strategy, dataset, config, callbacks):
    """A plain strategy.run training loop for MultiWorkerMirroredStrategy.

    Keras 3's fit() cannot reduce scalar metrics across workers under this strategy
    (tensorflow/tensorflow#72388), so multi-worker runs step here with the same model,
    losses, optimizer and callbacks. Each replica's loss is its local mean divided by the
    number of replicas, so the all-reduced gradient is that of the global batch mean.
    """
    replicas = strategy.num_replicas_in_sync
    iterator = iter(strategy.experimental_distribute_dataset(dataset))

    def replica_step(lightness, targets):
        with tf.GradientTape() as tape:
            outputs = model(lightness, training=True)
            parts = {name: fn(targets[name], outputs[name]) for name, fn in loss.items()}
            total = tf.add_n([loss_weights[name] * value for name, value in parts.items()])
            scaled = total / replicas
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return {"loss": total, **{f"{name}_loss": value for name, value in parts.items()}}

    @tf.function
    def train_step(inputs):
        lightness, targets = inputs
        per_replica = strategy.run(replica_step, args=(lightness, targets))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in per_replica.items()}

    for callback in callbacks:
        callback.set_model(model)
    history = {}
    progress = keras.utils.Progbar(config.steps, stateful_metrics=["loss"])
    step = int(optimizer.iterations.numpy())
    while step < config.steps:
        logs = train_step(next(iterator))
        step = int(optimizer.iterations.numpy())
        logs = {k: float(v) for k, v in logs.items()}
        progress.update(step, list(logs.items()))
        if step % config.checkpoint_every == 0 or step >= config.steps:
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
            for callback in callbacks:
                callback.on_epoch_end(step // config.checkpoint_every - 1, logs)
    return history


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
