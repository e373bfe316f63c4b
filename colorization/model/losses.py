"""Losses of the instance-aware colorizer, written with `keras.ops` only.

Colour loss, equation (3) of the paper (Zhang et al.'s rebalanced cross-entropy):

    L_color = mean over pixels p of  w(p) * ( - sum_q Z_pq log softmax(logits_p)_q )

with Z the target distribution over the 313 bins (one-hot for hard targets, k-sparse
Gaussian for soft targets) and w(p) the rebalancing weight of the pixel's nearest bin.

Colour targets are packed sparsely in one float tensor so that no dense 313-channel target
is built in the input pipeline:

    y_true (batch, h, w, 2k + 1) = [ k bin indices | k probabilities | rebalancing weight ]

with k = 1 for hard targets. `pack_color_target` builds it.

Class loss, equations (1)-(2): softmax cross-entropy on the dominant label (label -1 =
no label, no loss), or a sigmoid cross-entropy over the present labels (multi-hot; an
all-zero row = no label, no loss).
"""

import keras
from keras import ops


def color_target_channels(num_neighbors):
    """Channels of a packed colour target with `num_neighbors` bins per pixel."""
    return 2 * num_neighbors + 1


def pack_color_target(indices, probs, weight):
    """Packs (indices (..., k) int, probs (..., k), weight (...)) into (..., 2k + 1) float32."""
    return ops.concatenate(
        [
            ops.cast(indices, "float32"),
            ops.cast(probs, "float32"),
            ops.cast(weight, "float32")[..., None],
        ],
        axis=-1,
    )


@keras.saving.register_keras_serializable(package="colorization")
class RebalancedColorLoss(keras.losses.Loss):
    """Per-pixel cross-entropy over the colour bins, weighted by the rebalancing weights.

    Args:
      num_neighbors: k of the packed target (1 = hard one-hot targets).
    """

    def __init__(self, num_neighbors=1, name="color_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        if num_neighbors < 1:
            raise ValueError(f"num_neighbors must be >= 1. Received: num_neighbors={num_neighbors}")
        self.num_neighbors = int(num_neighbors)

    def call(self, y_true, y_pred):
        k = self.num_neighbors
        expected = color_target_channels(k)
        if y_true.shape[-1] is not None and y_true.shape[-1] != expected:
            raise ValueError(
                f"Packed colour target must have 2k + 1 = {expected} channels for k = {k}. "
                f"Received: y_true.shape={y_true.shape}"
            )
        # (batch, h, w, num_bins)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        # (batch, h, w, k) each
        indices = ops.cast(y_true[..., :k], "int32")
        target_probs = y_true[..., k : 2 * k]
        # (batch, h, w)
        weight = y_true[..., 2 * k]
        picked = ops.take_along_axis(log_probs, indices, axis=-1)
        cross_entropy = -ops.sum(target_probs * picked, axis=-1)
        # Keras' sum_over_batch_size reduction averages this map over every pixel of the batch.
        return weight * cross_entropy

    def get_config(self):
        return {"num_neighbors": self.num_neighbors, **super().get_config()}


@keras.saving.register_keras_serializable(package="colorization")
class MaskedClassLoss(keras.losses.Loss):
    """Class loss that ignores images without a label.

    Args:
      multi_label: False: y_true (batch,) or (batch, 1) int class ids, -1 for no label,
        softmax cross-entropy. True: y_true (batch, num_classes) multi-hot, sigmoid
        cross-entropy averaged over classes; rows with no positive class are ignored.
    """

    def __init__(self, multi_label=False, name="class_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.multi_label = bool(multi_label)

    def call(self, y_true, y_pred):
        # (batch, num_classes)
        logits = ops.cast(y_pred, "float32")
        if self.multi_label:
            targets = ops.cast(y_true, "float32")
            labelled = ops.cast(ops.max(targets, axis=-1) > 0, "float32")
            per_class = ops.binary_crossentropy(targets, logits, from_logits=True)
            per_image = ops.mean(per_class, axis=-1)
        else:
            # (batch,)
            labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            labelled = ops.cast(labels >= 0, "float32")
            per_image = ops.sparse_categorical_crossentropy(
                ops.maximum(labels, 0), logits, from_logits=True
            )
        return per_image * labelled

    def get_config(self):
        return {"multi_label": self.multi_label, **super().get_config()}


@keras.saving.register_keras_serializable(package="colorization")
class MaskedClassAccuracy(keras.metrics.Metric):
    """Top-1 accuracy over labelled images (dominant label; -1 = no label, not counted).

    For multi-hot targets, a prediction is correct when its top class is one of the present
    labels.
    """

    def __init__(self, multi_label=False, name="class_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.multi_label = bool(multi_label)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = ops.argmax(y_pred, axis=-1)
        if self.multi_label:
            targets = ops.cast(y_true, "float32")
            labelled = ops.cast(ops.max(targets, axis=-1) > 0, "float32")
            hit = ops.take_along_axis(targets, ops.expand_dims(predicted, -1), axis=-1)[:, 0]
        else:
            labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            labelled = ops.cast(labels >= 0, "float32")
            hit = ops.cast(ops.equal(ops.cast(predicted, "int32"), labels), "float32")
        self.correct.assign_add(ops.sum(hit * labelled))
        self.total.assign_add(ops.sum(labelled))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {"multi_label": self.multi_label, **super().get_config()}


def build_losses(config, num_neighbors, class_loss_weight):
    """Losses, loss weights and metrics for `model.compile`, keyed by output name.

    Args:
      config: the `ModelConfig` of the model.
      num_neighbors: k of the packed colour targets (1 = hard).
      class_loss_weight: weight of the class loss against the colour loss (weight 1).
    """
    losses = {"color_logits": RebalancedColorLoss(num_neighbors)}
    loss_weights = {"color_logits": 1.0}
    metrics = {}
    if config.use_class_branch:
        multi_label = config.class_loss == "sigmoid"
        losses["class_logits"] = MaskedClassLoss(multi_label)
        loss_weights["class_logits"] = float(class_loss_weight)
        metrics["class_logits"] = [MaskedClassAccuracy(multi_label)]
    return losses, loss_weights, metrics
