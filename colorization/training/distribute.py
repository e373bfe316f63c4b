"""tf.distribute for training: the strategy for a name, which task writes files, and a
plain training loop for multi-worker runs."""

import os

import keras
import tensorflow as tf


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


def worker_dir(model_dir, strategy):
    """The private folder of a non-chief worker: MODEL_DIR/.worker_<task id>, the same on
    every launch of the cluster."""
    resolver = strategy.cluster_resolver
    return os.path.join(model_dir, f".{resolver.task_type}_{resolver.task_id}")


def distributed_loop(
    model, optimizer, loss, loss_weights, strategy, dataset, config, callbacks, start_step=0
):
    """A plain strategy.run training loop for MultiWorkerMirroredStrategy.

    Keras 3's fit() cannot reduce scalar metrics across workers under this strategy
    (tensorflow/tensorflow#72388), so multi-worker runs step here with the same model,
    losses, optimizer and callbacks. A Keras `Loss` called inside a replica already divides
    its local batch mean by the number of replicas, so the gradients summed over replicas
    are those of the global batch mean with no further scaling, and the logged losses are
    the sum over replicas. Steps count batches from `start_step` to config.steps; the
    callbacks see every batch end, and an epoch end every checkpoint_every batches and at
    the last, as under fit().
    """
    iterator = iter(strategy.experimental_distribute_dataset(dataset))

    def replica_step(features, targets):
        # features: L, or {"L", "hints"} for a network that takes hints.
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            parts = {name: fn(targets[name], outputs[name]) for name, fn in loss.items()}
            total = tf.add_n([loss_weights[name] * value for name, value in parts.items()])
            # scale_loss multiplies by the loss scale under mixed_float16 (a
            # LossScaleOptimizer, whose apply_gradients divides it out again) and is the
            # identity otherwise.
            scaled = optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return {"loss": total, **{f"{name}_loss": value for name, value in parts.items()}}

    @tf.function
    def train_step(inputs):
        features, targets = inputs
        per_replica = strategy.run(replica_step, args=(features, targets))
        return {k: strategy.reduce("SUM", v, axis=None) for k, v in per_replica.items()}

    for callback in callbacks:
        callback.set_model(model)
    history = {}
    progress = keras.utils.Progbar(config.steps, stateful_metrics=["loss"])
    step, epoch = start_step, 0
    while step < config.steps:
        logs = train_step(next(iterator))
        step += 1
        logs = {k: float(v) for k, v in logs.items()}
        progress.update(step, list(logs.items()))
        for callback in callbacks:
            callback.on_train_batch_end(step - start_step - 1, logs)
        if (step - start_step) % config.checkpoint_every == 0 or step == config.steps:
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            epoch += 1
    return history
