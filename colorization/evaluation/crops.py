"""Evaluation of one or more colorizers against the grey baseline, on the same images.

Every method sees the same evaluation crops (S x S, centre crop, see data_prep.pipeline) and
is scored at that resolution with colorization.evaluation.metrics. The grey baseline is
metrics.grey_baseline, the one both protocols use. Per-image records feed the HTML report's table and per-class table.
"""

import numpy as np

from colorization.core import color
from colorization.core.config import VOC_CLASSES
from colorization.evaluation import metrics
from colorization.evaluation.metrics import GREY
from colorization.inference import decoding as inference
from colorization.model.network import model_inputs


def evaluate_models(models, dataset, temperature, max_examples=0, keep_images=8):
    """Scores `models` ({name: keras model}) and the grey baseline on `dataset`.

    Args:
      models: dict name -> model mapping L (batch, S, S, 1) to {"color_logits", ...}.
      dataset: batches of ({"L", "rgb"}, {"class_logits": labels}) from
        data_prep.pipeline.build_dataset(..., PipelineConfig(training=False, with_rgb=True)).
      temperature: annealed-mean temperature.
      max_examples: stop after this many images (0 = all).
      keep_images: how many images to keep for grids and reports.

    Returns:
      dict with "metrics" {method: colour metrics}, "class" {method: class metrics},
      "images" {method or "truth": [uint8 (S, S, 3)]}, "records" [per-image dicts].
    """
    methods = [GREY, *models]
    colour = {name: metrics.ColorMetrics() for name in methods}
    classes = {name: metrics.ClassMetrics() for name in models}
    images = {name: [] for name in [*methods, "truth"]}
    records = []
    seen = 0
    for features, targets in dataset:
        if max_examples and seen >= max_examples:
            break
        lightness = features["L"]
        true_rgb = features["rgb"]
        true_ab = color.rgb_to_lab(true_rgb)[..., 1:].numpy()
        true_u8 = color.to_uint8(true_rgb).numpy()
        labels = targets["class_logits"].numpy()
        if labels.ndim == 2:  # multi-hot targets: the dominant label is unknown, use the first
            multi_hot = labels
            labels = np.where(labels.max(-1) > 0, labels.argmax(-1), -1)
        else:
            multi_hot = None
        outputs = {GREY: (np.zeros_like(true_ab), metrics.grey_baseline(lightness), None)}
        for name, model in models.items():
            out = model(model_inputs(model, lightness), training=False)
            rgb, ab = inference.compose_rgb(lightness, out["color_logits"], temperature)
            outputs[name] = (ab.numpy(), color.to_uint8(rgb).numpy(), out.get("class_logits"))
        batch_records = [{"index": seen + i, "label": int(labels[i])} for i in range(len(labels))]
        for name, (ab, rgb_u8, class_logits) in outputs.items():
            per_image = colour[name].update(ab, true_ab, rgb_u8, true_u8)
            for i, record in enumerate(batch_records):
                record[name] = {key: float(values[i]) for key, values in per_image.items()}
            if class_logits is not None:
                logits = np.asarray(class_logits)
                hot = (
                    multi_hot
                    if multi_hot is not None
                    else (np.eye(logits.shape[-1])[np.maximum(labels, 0)] * (labels[:, None] >= 0))
                )
                classes[name].update(logits, labels, hot)
            images[name].extend(rgb_u8[: max(keep_images - len(images[name]), 0)])
        images["truth"].extend(true_u8[: max(keep_images - len(images["truth"]), 0)])
        true_cf = metrics.colorfulness(true_u8)
        for i, record in enumerate(batch_records):
            record["true_colorfulness"] = float(true_cf[i])
        records.extend(batch_records)
        seen += len(labels)
    return {
        "metrics": {name: m.result() for name, m in colour.items()},
        "class": {name: m.result() for name, m in classes.items()},
        "images": images,
        "records": records,
    }


def per_class_table(records, methods, class_names=VOC_CLASSES):
    """{class name: {"count", method: {"psnr", "auc"}}} over images with a dominant label."""
    table = {}
    for label in sorted({r["label"] for r in records if r["label"] >= 0}):
        rows = [r for r in records if r["label"] == label]
        name = class_names[label] if label < len(class_names) else str(label)
        table[name] = {"count": len(rows)}
        for method in methods:
            table[name][method] = {
                key: float(np.mean([r[method][key] for r in rows]))
                for key in ("psnr", "auc", "colorfulness")
            }
    return table


def image_grid(columns, max_rows=8):
    """uint8 grid: one row per image, one column per entry of `columns` (lists of images)."""
    rows = [np.concatenate(row, axis=1) for row in zip(*columns, strict=False)]
    return np.concatenate(rows[:max_rows], axis=0)


def photo_sheet(rows, height, gap=0):
    """uint8 sheet of photos of any sizes: each row a list of uint8 (H, W, 3) images, each
    scaled to `height` pixels (aspect kept, antialiased) and set side by side; rows padded
    with white to the widest and stacked with `gap` white pixels between them."""
    import tensorflow as tf

    lines = []
    for images in rows:
        scaled = []
        for image in images:
            width = max(1, round(image.shape[1] * height / image.shape[0]))
            resized = tf.image.resize(image, (height, width), antialias=True)
            scaled.append(tf.cast(tf.round(resized), tf.uint8).numpy())
        lines.append(np.concatenate(scaled, axis=1))
    width = max(line.shape[1] for line in lines)
    return np.concatenate(
        [
            np.pad(line, ((0, gap), (0, width - line.shape[1]), (0, 0)), constant_values=255)
            for line in lines
        ]
    )
