"""Losses of the instance-aware colorizer, written with `keras.ops` only.

Colour loss, equation (3) of the paper (Zhang et al.'s rebalanced cross-entropy):

    L_color = mean over pixels p of  w(p) * ( - sum_q Z_pq log softmax(logits_p)_q )

with Z the target distribution over the 313 bins (one-hot for hard targets, k-sparse
Gaussian for soft targets) and w(p) the rebalancing weight of the pixel's nearest bin.

Colour targets are packed sparsely in one float tensor so that no dense 313-channel target
is built in the input pipeline:

    y_true (batch, h, w, 2k + 1) = [ k bin indices | k probabilities | rebalancing weight ]

with k = 1 for hard targets. `pack_color_target` builds it.

Two optional terms on the decoded colour, beside the cross-entropy (both off by default):

    ab term:        huber(annealed_mean_T(logits)_p - ab_target_p) / AB_SCALE   (delta 10 ab)
    chroma term:    max(|ab_target_p| - |annealed_mean_T(logits)_p|, 0) / AB_SCALE

with ab_target_p the mean ab of the pixel's target distribution. The first pulls the colour
the user sees towards the truth; the second penalises only colour missing where the truth
has it (a grey or washed-out pixel), never colour added. Both are unweighted by the
rebalancing weights and added per pixel with their own weights, except where the packed
weight is 0: such a pixel (of a crop left out of the colour loss) counts in no term.

Class loss, equations (1)-(2): softmax cross-entropy on the dominant label (label -1 =
no label, no loss), or a sigmoid cross-entropy over the present labels (multi-hot; an
all-zero row = no label, no loss).
"""

import keras
import numpy as np
from keras import ops

from colorization.core import gamut
from colorization.core.config import DEFAULT_TEMPERATURE, checked_temperature

# ab units per unit of the decoded-colour terms (the largest |a| or |b| of the gamut).
AB_SCALE = 110.0
# Where the Huber ab term turns from quadratic to linear, in ab units.
AB_HUBER_DELTA = 10.0


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
      ab_weight: weight of the Huber term on the annealed-mean ab (module doc); 0 = off.
      chroma_weight: weight of the missing-chroma term (module doc); 0 = off.
      temperature: T of the annealed mean the two terms decode with.
    """

    def __init__(
        self,
        num_neighbors=1,
        ab_weight=0.0,
        chroma_weight=0.0,
        temperature=DEFAULT_TEMPERATURE,
        name="color_loss",
        reduction="sum_over_batch_size",
    ):
        super().__init__(name=name, reduction=reduction)
        if num_neighbors < 1:
            raise ValueError(f"num_neighbors must be >= 1. Received: num_neighbors={num_neighbors}")
        if ab_weight < 0 or chroma_weight < 0:
            raise ValueError(
                "ab_weight and chroma_weight must be >= 0. "
                f"Received: ab_weight={ab_weight}, chroma_weight={chroma_weight}"
            )
        checked_temperature(temperature)
        self.num_neighbors = int(num_neighbors)
        self.ab_weight = float(ab_weight)
        self.chroma_weight = float(chroma_weight)
        self.temperature = float(temperature)
        self._centers = gamut.bin_centers().astype(np.float32)

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
        per_pixel = weight * cross_entropy
        if self.ab_weight or self.chroma_weight:
            # A pixel of weight 0 counts for nothing (a crop the pipeline left out,
            # --min_mean_chroma), in these terms as in the cross-entropy; rebalancing
            # weights themselves are always > 0.
            counted = ops.cast(weight > 0, "float32")
            per_pixel = per_pixel + counted * self._decoded_terms(y_pred, indices, target_probs)
        # Keras' sum_over_batch_size reduction averages this map over every pixel of the batch.
        return per_pixel

    def _decoded_terms(self, y_pred, indices, target_probs):
        """The weighted ab and chroma terms per pixel (batch, h, w)."""
        centers = ops.convert_to_tensor(self._centers)
        # The target's mean ab: its k bins' centres weighted by their probabilities.
        target_ab = ops.sum(
            ops.take(centers, indices, axis=0) * target_probs[..., None], axis=-2
        ) / ops.maximum(ops.sum(target_probs, axis=-1, keepdims=True), 1e-8)
        weights = ops.softmax(ops.cast(y_pred, "float32") / self.temperature, axis=-1)
        decoded = ops.einsum("...q,qc->...c", weights, centers)
        terms = 0.0
        if self.ab_weight:
            error = ops.abs(decoded - target_ab)
            huber = ops.where(
                error <= AB_HUBER_DELTA,
                0.5 * ops.square(error) / AB_HUBER_DELTA,
                error - 0.5 * AB_HUBER_DELTA,
            )
            terms = terms + self.ab_weight * ops.sum(huber, axis=-1) / AB_SCALE
        if self.chroma_weight:
            # sqrt(x + eps) keeps the gradient finite at a pixel decoded exactly grey.
            chroma = ops.sqrt(ops.sum(ops.square(decoded), axis=-1) + 1e-6)
            true_chroma = ops.sqrt(ops.sum(ops.square(target_ab), axis=-1))
            terms = terms + self.chroma_weight * ops.relu(true_chroma - chroma) / AB_SCALE
        return terms

    def get_config(self):
        return {
            "num_neighbors": self.num_neighbors,
            "ab_weight": self.ab_weight,
            "chroma_weight": self.chroma_weight,
            "temperature": self.temperature,
            **super().get_config(),
        }


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


def build_losses(
    config,
    num_neighbors,
    class_loss_weight,
    ab_loss_weight=0.0,
    chroma_loss_weight=0.0,
    temperature=DEFAULT_TEMPERATURE,
):
    """Losses, loss weights and metrics for `model.compile`, keyed by output name.

    Args:
      config: the `ModelConfig` of the model.
      num_neighbors: k of the packed colour targets (1 = hard).
      class_loss_weight: weight of the class loss against the colour loss (weight 1).
      ab_loss_weight, chroma_loss_weight, temperature: the decoded-colour terms of
        `RebalancedColorLoss`.
    """
    losses = {
        "color_logits": RebalancedColorLoss(
            num_neighbors, ab_loss_weight, chroma_loss_weight, temperature
        )
    }
    loss_weights = {"color_logits": 1.0}
    metrics = {}
    if config.use_class_branch:
        multi_label = config.class_loss == "sigmoid"
        losses["class_logits"] = MaskedClassLoss(multi_label)
        loss_weights["class_logits"] = float(class_loss_weight)
        metrics["class_logits"] = [MaskedClassAccuracy(multi_label)]
    return losses, loss_weights, metrics
