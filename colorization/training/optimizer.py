"""Adam, its learning-rate schedule and loss scaling from a TrainConfig, in Keras only (so
any Keras backend can use them)."""

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
    """Adam with the config's betas, decoupled weight decay and schedule.

    Under the mixed_float16 policy Adam is wrapped in a LossScaleOptimizer: float16
    gradients of small losses underflow to zero, so the loss is multiplied by a dynamic
    scale before differentiating and the gradients divided by it before the update (steps
    with non-finite gradients are skipped and the scale lowered). Keras' compile only wraps
    the optimizer itself when the *model's* policy is mixed_float16, and the model is built
    under the global float32 policy with float16 layers, so the wrapping happens here, for
    fit() and the multi-worker loop alike. bfloat16 has float32's exponent range and needs
    no scaling.
    """
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate_schedule(config),
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        weight_decay=config.weight_decay or None,
    )
    if config.model.dtype_policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
