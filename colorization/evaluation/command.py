"""Evaluates colorizers against the grey baseline, and against each other, on the same photos.

    python -m colorization.evaluate --protocol=full --split=val --data_root=data \
        --dataset=voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos/* \
        --model=fusion=runs/a,no_fusion=runs/b --output_dir=eval/ablation

Two protocols behind one command:
- full (the one to report): every photo whole, at its own size, through the colorize path
  (any model the colorize command takes: .keras, model_dir, SavedModel, .tflite). Each
  comma-separated part of --dataset is a set, reported alone and pooled with the others;
  `folder:DIR/*` makes one set of every subfolder of DIR. Every model minus grey, and the
  first model minus each other model, come with paired 95 % bootstrap intervals.
- crop: centre crops at the network's size, the metrics of colorization.evaluation.metrics
  (with SSIM, per class, and a temperature sweep with --temperatures); Keras models only.

--model takes one or more models, comma-separated, each PATH or NAME=PATH; without it, the
colorizer shipped with the package. Writes OUTPUT_DIR/metrics.json, contact_sheet.png (grey
| each model | truth) and, for the crop protocol, a self-contained report.html.
"""

import base64
import dataclasses
import html
import json
import os

import numpy as np
from absl import flags

from colorization.core import cli
from colorization.core.config import DEFAULT_DATA_ROOT, DEFAULT_TEMPERATURE
from colorization.evaluation.metrics import GREY

FLAGS = flags.FLAGS
PROTOCOLS = ("full", "crop")
# Flags only the crop protocol reads; --protocol=full refuses them rather than ignore them.
CROP_ONLY = ("temperatures", "batch_size")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """One evaluation run.

    Attributes:
      models: ((name, path), ...), the models to score; the first is compared with each other.
      output_dir: where metrics.json and the pictures go.
      protocol: "full" (whole photos through the colorize path) or "crop".
      dataset: source spec; "" = the first model's validation data.
      split: the split of every part that has one.
      data_dir: TFDS data directory.
      data_root: folder that relative voc_dir:/folder: paths are read under.
      image_size: the network input side S (0 = the model's own).
      temperature: annealed-mean temperature (None = each model's own).
      temperatures: crop only: temperatures of a sensitivity sweep.
      batch_size: crop only: evaluation batch size (None = 16).
      max_examples: photos per set (0 = all).
      skip_examples: full only: usable photos left out at the start of each set before
        max_examples are taken (photos kept apart from those a choice was made on).
      report_images: photos per set in the contact sheet.
      num_bootstrap: full only: bootstrap resamples.
    """

    models: tuple
    output_dir: str
    protocol: str = "full"
    dataset: str = ""
    split: str = "val"
    data_dir: str | None = None
    data_root: str = DEFAULT_DATA_ROOT
    image_size: int = 0
    temperature: float | None = None
    temperatures: tuple = ()
    batch_size: int | None = None
    max_examples: int = 0
    skip_examples: int = 0
    report_images: int = 8
    hint_counts: tuple = ()
    num_bootstrap: int = 1000

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}. Received: {self.protocol!r}")
        names = [name for name, _ in self.models]
        if not names or len(set(names)) != len(names) or GREY in names:
            raise ValueError(
                f"models must be one or more distinct names, none of them {GREY!r}. "
                f"Received: {names}"
            )
        if self.protocol == "full":
            ignored = [
                f"{flag}={getattr(self, flag)!r}"
                for flag in CROP_ONLY
                if getattr(self, flag) not in (None, ())
            ]
            if ignored:
                raise ValueError(
                    f"--protocol=full does not use {', '.join(ignored)} (crop protocol only)."
                )
        if self.temperature is not None and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0. Received: {self.temperature}")
        if any(t <= 0 for t in self.temperatures):
            raise ValueError(f"temperatures must be > 0. Received: {list(self.temperatures)}")
        if self.skip_examples and self.protocol != "full":
            raise ValueError(
                f"skip_examples={self.skip_examples} needs --protocol=full (crop protocol: 0)."
            )
        for name, value in (
            ("max_examples", self.max_examples),
            ("skip_examples", self.skip_examples),
            ("report_images", self.report_images),
            ("image_size", self.image_size),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0. Received: {value}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1. Received: {self.batch_size}")
        if self.num_bootstrap < 10:
            raise ValueError(f"bootstrap must be >= 10. Received: {self.num_bootstrap}")
        if any(n < 0 for n in self.hint_counts) or (self.hint_counts and self.protocol != "full"):
            raise ValueError(
                "hint_counts must be counts >= 0, with --protocol=full. Received: "
                f"{list(self.hint_counts)} (protocol {self.protocol})"
            )


def split_decoding(path):
    """ "PATH" or "PATH@RADIUS" or "PATH@RADIUS/EPSILON" -> (PATH, radius or None, epsilon
    or None): one model scored with another edge-aware decoding (colorization.core.guided;
    radius 0 = bilinear) beside itself. ValueError names a bad suffix."""
    base, sep, suffix = path.rpartition("@")
    if not sep or os.path.exists(path):
        return path, None, None
    radius, _, epsilon = suffix.partition("/")
    try:
        radius = int(radius)
        epsilon = float(epsilon) if epsilon else None
    except ValueError:
        raise ValueError(
            f"model {path!r}: expected PATH@RADIUS or PATH@RADIUS/EPSILON after '@' (edge-aware "
            "decoding, e.g. model_dir@2/0.01)."
        ) from None
    if radius < 0 or (epsilon is not None and epsilon <= 0):
        raise ValueError(f"model {path!r}: radius must be >= 0 and epsilon > 0.")
    return base, radius, epsilon


def model_specs(models):
    """{name: (path, edge radius or None, epsilon or None)} of (name, PATH[@R[/EPS]]) pairs
    (parse_models); cli.CommandError naming a bad suffix or a model that does not exist."""
    from colorization.model import model_files

    specs = {}
    for name, spec in models:
        try:
            specs[name] = split_decoding(spec)
        except ValueError as e:
            raise cli.CommandError(str(e)) from None
        if not model_files.exists(specs[name][0]):
            raise cli.CommandError(f"model {specs[name][0]!r} does not exist.")
    return specs


def parse_models(items, default):
    """["PATH" or "NAME=PATH", ...] -> ((name, path), ...); no items: (("shipped", default),).

    A name defaults to the path's last component, made unique with a suffix."""
    if not items:
        return (("shipped", default),)
    models = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            path, name = item, os.path.basename(os.path.normpath(item)) or item
        taken = {n for n, _ in models}
        base, count = name, 1
        while name in taken or name == GREY:
            name, count = f"{base}_{count}", count + 1
        models.append((name, path))
    return tuple(models)


def define_flags():
    flags.DEFINE_list(
        "model",
        [],
        "Models, comma-separated, each PATH or NAME=PATH (.keras, model_dir or checkpoint; "
        "full also SavedModel and .tflite); default: the colorizer shipped with the package. "
        "PATH@RADIUS[/EPSILON] colours with that edge-aware decoding instead of the model's "
        "own (0 = bilinear), so one model can be scored with several side by side.",
    )
    flags.DEFINE_enum(
        "protocol",
        "full",
        list(PROTOCOLS),
        "full: whole photos at their own size through the colorize path, with paired "
        "bootstrap intervals; crop: centre crops at the network's size.",
    )
    flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamples (full protocol).")
    flags.DEFINE_string(
        "dataset",
        "",
        "Source spec, each comma-separated part a set (folder:DIR/* = one set per subfolder); "
        "default: the first model's validation data.",
    )
    flags.DEFINE_string("split", "val", "Split of every part that has one.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    cli.define_data_root_flag()
    flags.DEFINE_string("output_dir", None, "Where to write metrics.json and the pictures.")
    flags.DEFINE_integer(
        "image_size",
        0,
        "The network's input size S (the same weights rebuilt at S); 0 = the model's own.",
    )
    flags.DEFINE_float(
        "temperature",
        None,
        "Annealed-mean temperature; default: each model's own (config.json), else "
        f"{DEFAULT_TEMPERATURE}.",
    )
    flags.DEFINE_list("temperatures", [], "Crop protocol: a sweep of temperatures.")
    flags.DEFINE_integer("max_examples", 0, "Evaluate at most this many photos per set (0 = all).")
    flags.DEFINE_integer(
        "skip_examples",
        0,
        "Full protocol: leave out the first N usable photos of each set, then take "
        "--max_examples (e.g. --skip_examples=40 --max_examples=80 scores photos 41-120, "
        "apart from the first 40 that a choice was made on).",
    )
    flags.DEFINE_integer("report_images", 8, "Photos per set in the contact sheet.")
    flags.DEFINE_integer("batch_size", None, "Crop protocol: batch size (default 16).")
    flags.DEFINE_list(
        "hint_counts",
        [],
        "Full protocol, models that take colour hints: also score each with N hints per photo "
        "for every N listed (e.g. 0,1,2,5,10,20), drawn from the truth with a seed fixed per "
        "photo and N, as methods NAME+Nh.",
    )
    flags.mark_flags_as_required(["output_dir"])


def _png_data_uri(image):
    import tensorflow as tf

    return "data:image/png;base64," + base64.b64encode(tf.io.encode_png(image).numpy()).decode()


def write_report(path, result, names, settings):
    """A self-contained HTML page: summary table, per-class table, per-image rows."""
    m = result["metrics"]
    keys = ("auc", "rebalanced_auc", "psnr", "ssim", "colorfulness", "delta_colorfulness")
    parts = [
        "<!doctype html><meta charset=utf-8><title>Colorization report</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "img{image-rendering:auto}</style>",
        f"<h1>Colorization report</h1><p>{html.escape(json.dumps(settings))}</p>",
        "<h2>Metrics</h2><table><tr><th>method</th>"
        + "".join(f"<th>{k}</th>" for k in keys)
        + "</tr>",
    ]
    for name in names:
        parts.append(
            f"<tr><td>{name}</td>" + "".join(f"<td>{m[name][k]:.3f}</td>" for k in keys) + "</tr>"
        )
    parts.append(
        f"</table><p>ground-truth colourfulness {m[names[0]]['true_colorfulness']:.2f}</p>"
    )
    if result.get("per_class"):
        parts.append("<h2>Per class (dominant label)</h2><table><tr><th>class</th><th>images</th>")
        parts.append("".join(f"<th>{n} AuC</th><th>{n} PSNR</th>" for n in names) + "</tr>")
        for cls, row in result["per_class"].items():
            cells = "".join(
                f"<td>{row[n]['auc']:.2f}</td><td>{row[n]['psnr']:.2f}</td>" for n in names
            )
            parts.append(f"<tr><td>{cls}</td><td>{row['count']}</td>{cells}</tr>")
        parts.append("</table>")
    parts.append(
        "<h2>Images</h2><table><tr><th>#</th>"
        + "".join(f"<th>{n}</th>" for n in names)
        + "<th>truth</th></tr>"
    )
    images = result["images"]
    for i, record in enumerate(result["records"][: len(images["truth"])]):
        cells = "".join(
            f"<td><img src='{_png_data_uri(images[n][i])}'><br>PSNR {record[n]['psnr']:.2f} "
            f"AuC {record[n]['auc']:.1f} CF {record[n]['colorfulness']:.1f}</td>"
            for n in names
        )
        parts.append(
            f"<tr><td>{i}</td>{cells}<td><img src='{_png_data_uri(images['truth'][i])}'>"
            f"<br>CF {record['true_colorfulness']:.1f}</td></tr>"
        )
    parts.append("</table>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


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


def _interval_text(value, interval, signed=True):
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return f"{fmt.format(value)} [{fmt.format(interval[0])}, {fmt.format(interval[1])}]"


def format_full_table(summaries, names):
    """Markdown lines: per set and method, each model minus grey and its figures."""
    lines = [
        "| set | method | photos | AuC − grey [95% CI] | rebalanced AuC − grey [95% CI] | "
        "colourfulness (% of truth) | sepia share | blotch (ab) | bleeding (ab) | class top-1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, summary in summaries.items():
        for name in names:
            m = summary["metrics"][name]
            row = f"| {set_name} | {name} | {summary['num_images']} | "
            if name == GREY:
                row += f"{m['auc']:.2f} (AuC) | {m['rebalanced_auc']:.2f} (rebalanced) | "
            else:
                key = f"{name} - {GREY}"
                d, iv = summary["differences"][key], summary["interval"]["differences"][key]
                row += (
                    f"{_interval_text(d['auc'], iv['auc'])} | "
                    f"{_interval_text(d['rebalanced_auc'], iv['rebalanced_auc'])} | "
                )
            cls = summary.get("class", {}).get(name, {})
            top1 = (
                f"{cls['top1_accuracy']:.1f}% of {cls['num_labelled']} (majority "
                f"{cls['majority_class_accuracy']:.1f}%)"
                if cls.get("num_labelled")
                else "–"
            )
            row += (
                f"{100 * m['colorfulness_ratio']:.0f}% | {m['sepia_share']:.1f}% | "
                f"{m['blotch']:.2f} | {m['bleeding']:.2f} | {top1} |"
            )
            lines.append(row)
    return lines


def format_pair_table(summaries, pairs):
    """Markdown lines: the paired differences first - second per set."""
    lines = [
        "| set | difference | AuC [95% CI] | rebalanced AuC [95% CI] | PSNR dB [95% CI] | "
        "colourfulness ratio [95% CI] | sepia share [95% CI] | blotch [95% CI] | "
        "bleeding [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, summary in summaries.items():
        for first, second in pairs:
            key = f"{first} - {second}"
            d, iv = summary["differences"][key], summary["interval"]["differences"][key]
            lines.append(
                f"| {set_name} | {key} | {_interval_text(d['auc'], iv['auc'])} | "
                f"{_interval_text(d['rebalanced_auc'], iv['rebalanced_auc'])} | "
                f"{_interval_text(d['psnr'], iv['psnr'])} | "
                f"{_interval_text(100 * d['colorfulness_ratio'], [100 * v for v in iv['colorfulness_ratio']])} | "
                f"{_interval_text(d['sepia_share'], iv['sepia_share'])} | "
                f"{_interval_text(d['blotch'], iv['blotch'])} | "
                f"{_interval_text(d['bleeding'], iv['bleeding'])} |"
            )
    return lines


def hinted_colorize(colorizer, count):
    """colorize_batch of `colorizer` given `count` hints per photo, drawn from the photo's
    own colours (colorization.core.hints.random_hints) at the network's size, with a seed
    made of the photo's content and `count`: every model sees the same points."""
    import zlib

    import tensorflow as tf

    from colorization.core import color
    from colorization.core import hints as hint_maps

    size = colorizer.image_size

    def colorize(images):
        maps = []
        for image in images:
            rgb = tf.image.resize(tf.cast(image, tf.float32) / 255.0, [size, size], "area")
            ab = color.rgb_to_lab(rgb)[..., 1:]
            seed = tf.constant([zlib.crc32(np.ascontiguousarray(image).tobytes()), count], tf.int64)
            maps.append(hint_maps.random_hints(ab, count, seed))
        return colorizer.colorize_batch(images, hint_maps_given=tf.stack(maps))

    return colorize


def run_full(config):
    """The full protocol; writes the outputs and returns the metrics.json dict."""
    import tensorflow as tf

    from colorization.evaluation import crops, photos
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
    methods = {name: c.colorize_batch for name, c in colorizers.items()}
    models = [name for name, _ in config.models]
    pairs = [(models[0], other) for other in models[1:]]
    for name, colorizer in colorizers.items():
        if config.hint_counts and not colorizer.takes_hints:
            print(f"{name} takes no colour hints: scored without them only.")
            continue
        for count in config.hint_counts:
            methods[f"{name}+{count}h"] = hinted_colorize(colorizer, count)
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
    print(f"Wrote {config.output_dir}/metrics.json" + (", contact_sheet.png" if sheet_rows else ""))
    return result


RUNNERS = {"full": run_full, "crop": run_crop}


def evaluate(config):
    """Runs `config`'s protocol; returns what went to metrics.json."""
    return RUNNERS[config.protocol](config)


def _list_of(flag, kind, expected):
    """The values of a list flag as `kind`; ValueError naming the flag otherwise."""
    values = FLAGS[flag].value
    try:
        return tuple(kind(v) for v in values)
    except ValueError:
        raise ValueError(f"--{flag} must be {expected}. Received: {values}") from None


def config_from_flags():
    """The EvalConfig of the command line; ValueError naming a bad value."""
    from colorization.inference import DEFAULT_MODEL

    temperatures = _list_of("temperatures", float, "numbers")
    hint_counts = _list_of("hint_counts", int, "whole numbers")
    return EvalConfig(
        models=parse_models(FLAGS.model, DEFAULT_MODEL),
        output_dir=FLAGS.output_dir,
        protocol=FLAGS.protocol,
        dataset=FLAGS.dataset,
        split=FLAGS.split,
        data_dir=FLAGS.data_dir,
        data_root=FLAGS.data_root,
        image_size=FLAGS.image_size,
        temperature=FLAGS.temperature,
        temperatures=temperatures,
        batch_size=FLAGS.batch_size,
        max_examples=FLAGS.max_examples,
        skip_examples=FLAGS.skip_examples,
        report_images=FLAGS.report_images,
        num_bootstrap=FLAGS.bootstrap,
        hint_counts=hint_counts,
    )


def main(argv):
    from data_prep.sources import SourceError

    if len(argv) > 1:
        raise cli.CommandError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    model_specs(config.models)
    # Bad input inside the run is a CommandError or a SourceError; any other exception is a
    # bug and keeps its traceback.
    try:
        evaluate(config)
    except SourceError as e:
        raise cli.CommandError(str(e)) from None
    return 0
