"""The two evaluation protocols, each from an EvalConfig to metrics.json and its pictures.

- full (the one to report): every photo whole, at its own size, through the colorize path
  (any model the colorize command takes: .keras, model_dir, SavedModel, .tflite), scored by
  colorization.evaluation.photos, per set and pooled, with paired bootstrap intervals; with
  hint counts, each hint model is also scored given N points of the truth's colours.
- crop: centre crops at the network's size, the metrics of colorization.evaluation.metrics
  (with SSIM, per class, and a temperature sweep); Keras models only.
"""

import json
import os

import numpy as np

from colorization.core import cli
from colorization.core.config import DEFAULT_TEMPERATURE
from colorization.evaluation.metrics import GREY
from colorization.evaluation.report import format_full_table, format_pair_table, write_report
from colorization.evaluation.settings import split_decoding


def _default_spec(model_path):
    """The validation data a model directory was trained with."""
    from colorization.model import model_files

    config = model_files.read_config(model_path) if os.path.isdir(model_path) else None
    if config is None:
        raise cli.CommandError("--dataset is needed when the model carries no training config.")
    return config.val_dataset or config.dataset


def run_crop(config):
    """The crop protocol; writes the outputs and returns the metrics.json dict."""
    import tensorflow as tf

    from colorization.core.config import VOC_CLASSES
    from colorization.evaluation import crops
    from colorization.model import model_files
    from colorization.model.network import input_size
    from data_prep import pipeline, priors, sources

    models, configs = {}, {}
    for name, path in config.models:
        models[name], configs[name] = model_files.load_model_dir(path)
    first = next(iter(models.values()))
    size = config.image_size or input_size(first)
    train_config = next(iter(configs.values()))
    spec = config.dataset or (
        train_config.val_dataset or train_config.dataset if train_config else None
    )
    if not spec:
        raise cli.CommandError("--dataset is needed when the model carries no training config.")
    split = config.split
    if not any(sources.has_splits(part) for part in sources.split_spec(spec)):
        split = "train"  # these sources have a single split
    source = sources.load_source(spec, split, config.data_dir, data_root=config.data_root)
    print(source.summary(), flush=True)
    eval_config = pipeline.PipelineConfig(
        image_size=size, batch_size=config.batch_size or 16, training=False, with_rgb=True
    )
    data = pipeline.build_dataset(source, eval_config, priors.uniform_priors().weights)
    for name, model in models.items():
        if input_size(model) != size:
            raise cli.CommandError(
                f"Model {name} takes {input_size(model)} px; evaluating at {size} needs the same size."
            )
    temperature = DEFAULT_TEMPERATURE if config.temperature is None else config.temperature
    result = crops.evaluate_models(
        models, data, temperature, config.max_examples, keep_images=config.report_images
    )
    names = [GREY, *models]
    class_names = train_config.model.class_names if train_config else VOC_CLASSES
    result["per_class"] = crops.per_class_table(result["records"], names, class_names)
    sweep = {}
    for t in config.temperatures:
        swept = crops.evaluate_models(models, data, float(t), config.max_examples, keep_images=0)
        sweep[str(t)] = {n: swept["metrics"][n] for n in models}
    os.makedirs(config.output_dir, exist_ok=True)
    settings = {
        "protocol": "crop",
        "dataset": spec,
        "split": split,
        "image_size": size,
        "temperature": temperature,
        "models": dict(config.models),
        "skipped": source.skipped,
    }
    summary = {
        "settings": settings,
        "metrics": result["metrics"],
        "class": result["class"],
        "per_class": result["per_class"],
        "temperature_sweep": sweep,
        "per_image": result["records"],
    }
    with open(os.path.join(config.output_dir, "metrics.json"), "w") as f:
        json.dump(summary, f, indent=2)
    images = result["images"]
    sheet = crops.image_grid(
        [images[n] for n in names] + [images["truth"]], max_rows=config.report_images
    )
    tf.io.write_file(os.path.join(config.output_dir, "contact_sheet.png"), tf.io.encode_png(sheet))
    write_report(os.path.join(config.output_dir, "report.html"), result, names, settings)
    print("| method | AuC | rebalanced AuC | PSNR | SSIM | colourfulness | ΔCF |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        m = result["metrics"][n]
        print(
            f"| {n} | {m['auc']:.2f} | {m['rebalanced_auc']:.2f} | {m['psnr']:.2f} | {m['ssim']:.3f} | "
            f"{m['colorfulness']:.2f} ({100 * m['colorfulness_ratio']:.0f}% of truth) | {m['delta_colorfulness']:.2f} |"
        )
    for n, cls in result["class"].items():
        if cls:
            print(f"{n} classes: {json.dumps(cls)}")
    for t, per_model in sweep.items():
        for n, m in per_model.items():
            print(
                f"T={t} {n}: AuC {m['auc']:.2f} rebalanced {m['rebalanced_auc']:.2f} PSNR {m['psnr']:.2f} CF {100 * m['colorfulness_ratio']:.0f}%"
            )
    print(f"Wrote {config.output_dir}/metrics.json, contact_sheet.png, report.html")
    return summary


def drawn_hints(image, count):
    """`count` hints of one photo as a user would give them: pixels drawn uniformly, each
    with the photo's own colour there, [(x, y, (r, g, b)), ...]. The seed is made of the
    photo's content and `count`, so every model (and every format) gets the same points."""
    import zlib

    image = np.ascontiguousarray(image)
    rgb = np.repeat(image[..., :1], 3, -1) if image.shape[-1] == 1 else image[..., :3]
    rng = np.random.default_rng([zlib.crc32(image.tobytes()), count])
    height, width = rgb.shape[:2]
    xs = rng.integers(0, width, count)
    ys = rng.integers(0, height, count)
    return [(int(x), int(y), tuple(int(c) for c in rgb[y, x])) for x, y in zip(xs, ys, strict=True)]


def hinted_colorize(colorizer, count):
    """colorize_batch of `colorizer` given `count` hints per photo (`drawn_hints`), through
    the hint path every format shares."""

    def colorize(images):
        return colorizer.colorize_batch(images, hints=[drawn_hints(im, count) for im in images])

    return colorize


def run_full(config):
    """The full protocol; writes the outputs and returns the metrics.json dict."""
    import tensorflow as tf

    from colorization.evaluation import crops, photos, score_cache
    from colorization.inference import Colorizer
    from data_prep import pipeline, sources

    colorizers = {}
    for name, spec in config.models:
        path, radius, epsilon = split_decoding(spec)
        colorizers[name] = Colorizer(
            path,
            temperature=config.temperature,
            image_size=config.image_size or None,
            edge_radius=radius,
            edge_epsilon=epsilon,
        )
    cache = score_cache.ScoreCache(config.score_cache) if config.score_cache else None

    def method(colorizer, count):
        colorize = hinted_colorize(colorizer, count) if count else colorizer.colorize_batch
        if cache is None:
            return colorize
        return cache.cached(colorize, score_cache.method_key(colorizer, count))

    methods = {name: method(c, 0) for name, c in colorizers.items()}
    models = [name for name, _ in config.models]
    pairs = [(models[0], other) for other in models[1:]]
    for name, colorizer in colorizers.items():
        if config.hint_counts and not colorizer.takes_hints:
            print(f"{name} takes no colour hints: scored without them only.")
            continue
        for count in config.hint_counts:
            methods[f"{name}+{count}h"] = method(colorizer, count)
            pairs.append((f"{name}+{count}h", name))
    names = [GREY, *methods]
    models = list(methods)
    spec = config.dataset or _default_spec(split_decoding(config.models[0][1])[0])
    sets = sources.expand_spec(spec, config.data_root)
    all_records, per_set, sheet_rows, empty = [], {}, [], []
    for part in sets:
        part_split = config.split if sources.has_splits(part) else "train"
        source = sources.load_source(part, part_split, config.data_dir, data_root=config.data_root)
        print(source.summary(), flush=True)
        decoded = pipeline.decoded(source, pipeline.PipelineConfig(training=False, batch_size=1))
        decoded = decoded.skip(config.skip_examples)
        records = photos.evaluate_photos(
            methods,
            ((e["image"].numpy(), int(e["label"].numpy())) for e in decoded),
            config.max_examples,
            keep_images=config.report_images,
        )
        if not records:
            # A set smaller than --skip_examples (or with no usable photo) has nothing to
            # score: said and left out, the other sets are still scored and pooled.
            print(f"{part}: no photo to score after the first {config.skip_examples}", flush=True)
            empty.append(part)
            continue
        per_set[part] = photos.summarize(records, pairs, config.num_bootstrap)
        per_set[part]["class"] = {m: photos.class_accuracy(records, m) for m in models}
        for record in records[: config.report_images]:
            images = record.pop("images")
            grey = np.repeat(np.asarray(tf.image.rgb_to_grayscale(images["truth"])), 3, -1)
            sheet_rows.append([grey, *(images[m] for m in models), images["truth"]])
        for record in records:
            record["set"] = part
        all_records += records
        print(f"{part}: {len(records)} photos scored", flush=True)
    if not all_records:
        raise cli.CommandError(
            f"No photo to score in {spec!r} (split {config.split!r}) after leaving out the "
            f"first {config.skip_examples} of each set."
        )
    summaries = dict(per_set)
    if len(sets) > 1:
        # Pooled: every photo of every set, resampled together.
        summaries["all"] = photos.summarize(all_records, pairs, config.num_bootstrap)
        summaries["all"]["class"] = {m: photos.class_accuracy(all_records, m) for m in models}
    os.makedirs(config.output_dir, exist_ok=True)
    result = {
        "settings": {
            "protocol": "full",
            "models": dict(config.models),
            "dataset": spec,
            "sets": sets,
            "split": config.split,
            "skip_examples": config.skip_examples,
            "sets_without_photos": empty,
            "max_examples": config.max_examples,
            "temperature": {n: c.temperature for n, c in colorizers.items()},
            "hint_counts": list(config.hint_counts),
            "image_size": config.image_size or "each model's own",
            "num_bootstrap": config.num_bootstrap,
            "interval": "95 % basic bootstrap over photos, paired across methods",
        },
        "per_set": per_set,
        "all": summaries.get("all"),
        # Per photo, without the error histograms (the summaries hold what they give).
        "per_image": [
            {
                "set": r["set"],
                "label": r["label"],
                "size": r["size"],
                "true_mean_ab": r["true_mean_ab"],
                **{
                    n: {
                        k: r["methods"][n].get(k)
                        for k in ("psnr", "colorfulness", "mean_ab", "blotch", "bleeding")
                    }
                    for n in names
                },
            }
            for r in all_records
        ],
    }
    if sheet_rows:
        sheet = crops.photo_sheet(sheet_rows, height=160)
        tf.io.write_file(
            os.path.join(config.output_dir, "contact_sheet.png"), tf.io.encode_png(sheet)
        )
    with open(os.path.join(config.output_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    print("\n".join(format_full_table(summaries, names)))
    if pairs:
        print("\n".join(format_pair_table(summaries, pairs)))
    if cache is not None:
        print(
            f"Score cache {config.score_cache}: {cache.hits} coloured photos read, "
            f"{cache.misses} coloured and kept."
        )
    print(f"Wrote {config.output_dir}/metrics.json" + (", contact_sheet.png" if sheet_rows else ""))
    return result


RUNNERS = {"full": run_full, "crop": run_crop}


def evaluate(config):
    """Runs `config`'s protocol; returns what went to metrics.json."""
    return RUNNERS[config.protocol](config)
