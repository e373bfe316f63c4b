"""Adam and its learning-rate schedule from a TrainConfig, in Keras only (no TensorFlow), so
that train_main and the TensorFlow-free GPU trainer (benchmarks.gpu_train) share them."""

import keras


def learning_rate_schedule(config):
    """Linear warm-up from 0 to config.learning_rate, then constant or cosine decay to 1 %."""
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
    """Adam with the config's betas, decoupled weight decay and schedule."""
    return keras.optimizers.Adam(
        learning_rate=learning_rate_schedule(config),
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        weight_decay=config.weight_decay or None,
    )
