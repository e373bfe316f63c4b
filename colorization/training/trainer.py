"""Training library behind train_main.py: one validated `TrainConfig` in, a trained model
directory out (its files: colorization/model_files.py).

`train()` reads top to bottom: pretrained weights, strategy and model directory, data and
priors, model, optimizer and checkpoint, input pipelines, callbacks, the loop, the summary.
"""

import dataclasses
import json
import logging
import os
import sys
import time

import keras
import tensorflow as tf

from colorization.core.config import ResumeError, resume_conflicts
from colorization.model import deeplab, imagenet_weights, losses, model_files
from colorization.model.network import build_model, count_flops, train_only_hints
from colorization.training.callbacks import CheckpointCallback, EvaluationCallback
from colorization.training.distribute import (
    distributed_loop,
    is_chief,
    make_strategy,
    worker_dir,
)
from colorization.training.optimizer import build_optimizer
from data_prep import pipeline, priors, sources

log = logging.getLogger(__name__)


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
        min_mean_chroma=config.min_mean_chroma if training else 0.0,
        with_rgb=not training,
        hints=config.model.hints,
        no_hint_share=config.no_hint_share,
    )


def check_resume(config):
    """Raises ResumeError when config.model_dir holds a checkpoint of a run started with
    other settings than `config` in anything that decides the data stream, the schedule or
    the network (colorization.core.config.resume_conflicts), naming each value."""
    checkpoints = os.path.join(config.model_dir, model_files.CHECKPOINT_DIR)
    recorded_file = os.path.join(config.model_dir, model_files.CONFIG_FILE)
    if not tf.train.latest_checkpoint(checkpoints) or not tf.io.gfile.exists(recorded_file):
        return
    conflicts = resume_conflicts(model_files.read_config(config.model_dir), config)
    if conflicts:
        listed = "; ".join(f"{name}: {old!r} then, {new!r} now" for name, old, new in conflicts)
        raise ResumeError(
            f"{config.model_dir} holds a run started with other settings ({listed}). Resume "
            "it with the settings it was started with (its config.json), or train into a new "
            "--model_dir."
        )


# How long a worker other than the chief waits for the chief's priors, and how often it looks.
CHIEF_PRIORS_TIMEOUT_S = 3600
CHIEF_PRIORS_POLL_S = 10


def load_or_compute_priors(config, source, model_dir, write_files, chief=True):
    """The priors to weight the colour loss with (saved in model_dir either way).

    A worker other than the chief (`chief=False`) never computes them: it reads the
    priors_path, or waits for the chief's model_dir/priors.npz, so that every worker weights
    the loss exactly as the chief does.
    """
    target = os.path.join(model_dir, "priors.npz")
    chief_file = os.path.join(config.model_dir, "priors.npz")
    if config.priors_path:
        result = priors.Priors.load(config.priors_path)
    elif tf.io.gfile.exists(target):
        return priors.Priors.load(target)
    elif not chief:
        start, told = time.monotonic(), None
        while not tf.io.gfile.exists(chief_file):
            waited = time.monotonic() - start
            if waited >= CHIEF_PRIORS_TIMEOUT_S:
                raise TimeoutError(
                    f"no colour priors at {chief_file} after {waited:.0f} s; the chief computes "
                    "them. Give every worker --priors=PATH to skip the wait."
                )
            if told is None or waited - told >= 60:
                print(f"Waiting for the chief's colour priors at {chief_file} ...", flush=True)
                told = waited
            time.sleep(CHIEF_PRIORS_POLL_S)
        result = priors.Priors.load(chief_file)
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


def _model_inputs(features, model_config):
    """The model's inputs from the pipeline's features: L, and the hint maps for a network
    that takes them."""
    if model_config.hints:
        return {"L": features["L"], "hints": features["hints"]}
    return features["L"]


def _model_targets(targets, model_config):
    """The targets of the model's outputs: no class target for a network without the class
    branch (Keras matches targets to outputs by structure)."""
    if model_config.use_class_branch:
        return targets
    return {"color_logits": targets["color_logits"]}


def with_priors_lambda(config):
    """`config` with the λ of its --priors file, whose weights the loss then uses: config.json
    records the λ that weighted the run, not the flag's default (unchanged without
    --priors, or with a file that does not record one)."""
    if not config.priors_path:
        return config
    recorded = priors.Priors.load(config.priors_path).metadata.get("lambda")
    if recorded is None or float(recorded) == config.mix_lambda:
        return config
    print(f"Colour priors {config.priors_path} were made at lambda {recorded:g}: recorded so.")
    return dataclasses.replace(config, mix_lambda=float(recorded))


def build_compiled_state(model, element_spec):
    """Creates the variables of a compiled model's loss trackers and metrics from one batch
    of zeros shaped like `element_spec` (features, targets), then zeroes them.

    Under a strategy, Keras builds them before the first step itself; without one it leaves
    them to the first trace of the training step, and a tf.function that creates variables
    while it is traced is traced a second time: the step would cost two traces instead of
    one (most of the start-up of a short run)."""
    zeros = tf.nest.map_structure(
        lambda spec: tf.zeros([1 if d is None else d for d in spec.shape], spec.dtype),
        element_spec,
    )
    features, targets = zeros
    predictions = model(features, training=False)
    model.compute_loss(features, targets, predictions, training=False)
    model.compute_metrics(features, targets, predictions, sample_weight=None)
    model.reset_metrics()


def train(config):
    """Trains (or resumes) according to `config`; returns the summary dict."""
    start = time.time()

    # --- Files the run reads, a resume's settings, and pretrained weights: before any data
    # is touched. ---
    config.check_files()
    config = with_priors_lambda(config)
    check_resume(config)
    pretrained = None
    if imagenet_weights.is_pretrained_spec(config.init_from):
        pretrained = imagenet_weights.fetch_pretrained(config.init_from, config.model.backbone)
    semantic = None
    if config.semantic_from:
        semantic = deeplab.read_deeplab_v3_tflite(config.semantic_from)

    # --- Strategy and model directory. ---
    # The chief writes the model directory; every other worker reads the chief's checkpoints
    # (so a restarted cluster resumes as one) and writes its own to a private folder, which
    # tf.distribute needs every worker to do and nobody reads.
    keras.utils.set_random_seed(config.seed)
    strategy = make_strategy(config.strategy, config.tpu)
    chief = is_chief(strategy)
    model_dir = config.model_dir if chief else worker_dir(config.model_dir, strategy)
    tf.io.gfile.makedirs(model_dir)
    if chief:
        model_files.write_config(model_dir, config)

    # --- Data sources and colour priors. ---
    train_source = sources.load_train_source(config)
    val_source = sources.load_val_source(config)
    print(train_source.summary(), flush=True)
    prior = load_or_compute_priors(config, train_source, model_dir, chief, chief=chief)

    # --- Model, losses, optimizer; resume, or start from pretrained weights. ---
    model_config = config.model
    if strategy.num_replicas_in_sync > 1 and not model_config.sync_batch_norm:
        # Replicas must agree on batch-norm statistics, or their weights drift apart.
        model_config = dataclasses.replace(model_config, sync_batch_norm=True)
        print(f"{strategy.num_replicas_in_sync} replicas: synchronized batch norm.", flush=True)
    with strategy.scope():
        model = build_model(model_config)
        if config.trainable == "hints":
            print(f"Training only {train_only_hints(model)}", flush=True)
        optimizer = build_optimizer(config)
        loss, loss_weights, model_metrics = losses.build_losses(
            config.model,
            config.neighbors,
            config.class_loss_weight,
            config.ab_loss_weight,
            config.chroma_loss_weight,
            config.temperature,
        )
        model.compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=model_metrics,
            jit_compile=config.keras_jit_compile,
        )
        optimizer.build(model.trainable_variables)
        # The run's clock: batches trained on. Not optimizer.iterations, which a loss-scaled
        # float16 step with non-finite gradients leaves unchanged; checkpoints, evaluations,
        # the resume offset and the end of the run all count batches.
        batches_seen = tf.Variable(0, dtype=tf.int64, trainable=False, name="batches_seen")
        checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, batches_seen=batches_seen
        )
        manager = tf.train.CheckpointManager(
            checkpoint, os.path.join(model_dir, model_files.CHECKPOINT_DIR), config.keep_checkpoints
        )
        latest = tf.train.latest_checkpoint(
            os.path.join(config.model_dir, model_files.CHECKPOINT_DIR)
        )
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            print(f"Resumed from {latest}", flush=True)
        elif pretrained is not None:
            imagenet_weights.load_imagenet_weights(
                model, config.init_from, config.model.backbone, reference=pretrained
            )
        elif config.init_from:
            loaded, skipped = model_files.warm_start(model, config.init_from)
            print(f"Warm start from {config.init_from}: loaded {len(loaded)} layers: {loaded}")
            print(f"  not loaded ({len(skipped)}): {skipped}", flush=True)
        if not latest and config.semantic_from:
            deeplab.load_deeplab_v3(model, config.semantic_from, semantic)
    step = int(batches_seen.numpy())
    print(
        f"Model: {model.count_params():,} parameters, {count_flops(model) / 1e9:.2f} GFLOPs/image "
        f"at {config.model.image_size}x{config.model.image_size}; starting at step {step}/{config.steps}",
        flush=True,
    )

    # --- Input pipelines (training resumes at the example where it stopped). ---
    train_data = pipeline.build_dataset(
        train_source,
        _pipeline_config(config, training=True),
        prior.weights,
        start_example=step * config.batch_size,
    ).map(
        tf.autograph.experimental.do_not_convert(
            lambda features, targets: (
                _model_inputs(features, config.model),
                _model_targets(targets, config.model),
            )
        )
    )
    val_data = pipeline.build_dataset(
        val_source, _pipeline_config(config, training=False), prior.weights
    )
    if config.strategy == "multi_worker":
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        train_data = train_data.with_options(options)

    # --- Callbacks: checkpoints, TensorBoard, periodic evaluation. ---
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "logs")) if chief else None
    evaluator = EvaluationCallback(config, val_data, writer, model_dir, chief, batches_seen)
    # Set here too: a finished run that is started again evaluates without training.
    evaluator.set_model(model)
    callbacks = [
        CheckpointCallback(manager, batches_seen, config.steps, writer),
        keras.callbacks.TensorBoard(
            os.path.join(model_dir, "logs"), update_freq=config.checkpoint_every
        ),
        evaluator,
    ]

    # --- The loop: Keras fit, or a strategy.run loop for multi-worker. ---
    history = {}
    if step < config.steps and config.strategy == "multi_worker":
        # Keras' TensorBoard callback needs fit()'s internals; CheckpointCallback logs the
        # training losses and learning rate in this loop instead.
        own = [c for c in callbacks if not isinstance(c, keras.callbacks.TensorBoard)]
        history = distributed_loop(
            model, optimizer, loss, loss_weights, strategy, train_data, config, own, step
        )
    elif step < config.steps:
        if config.strategy == "default":
            build_compiled_state(model, train_data.element_spec)
        # Epochs of checkpoint_every batches; CheckpointCallback counts the batches and
        # stops the last epoch at exactly `steps`.
        fit = model.fit(
            train_data,
            epochs=-(-(config.steps - step) // config.checkpoint_every),
            steps_per_epoch=config.checkpoint_every,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipeline shuffles (seeded, resumable)
            verbose=1 if sys.stdout.isatty() else 2,
        )
        history = {k: [float(x) for x in v] for k, v in fit.history.items()}
    final = evaluator.last or evaluator.run(int(batches_seen.numpy()))

    # --- Final model and summary. ---
    summary = {
        "config": config.to_dict(),
        "steps": int(batches_seen.numpy()),
        "optimizer_updates": int(optimizer.iterations.numpy()),
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
    model.save(os.path.join(model_dir, model_files.MODEL_FILE))
    if chief:
        with tf.io.gfile.GFile(os.path.join(model_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(f"Wrote {model_dir}/model.keras, summary.json, samples.png", flush=True)
    return summary
