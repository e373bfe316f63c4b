"""Evaluates colorizers against the grey baseline on a data set, in one run.

    python -m colorization.evaluate --model=runs/cpu \
        --dataset=voc_dir:../shared/data/voc2012_animals --split=val --output_dir=eval/cpu
    # with an ablation beside it:
    python -m colorization.evaluate --model=runs/cpu --second_model=runs/cpu_no_branch ...

Writes OUTPUT_DIR/metrics.json (every metric for every method, the per-class table and the
settings), OUTPUT_DIR/contact_sheet.png (grey | each model | truth) and a self-contained
OUTPUT_DIR/report.html with per-image metrics. --temperatures=0.2,0.38,1 adds a sweep.

--protocol=full scores the photos as users see them instead: every val photo at its own
size through the colorize path (any model the colorize CLI takes: .keras, model_dir,
SavedModel, .tflite), with 95 % bootstrap intervals over photos and the paired difference
to the grey photo; a comma-separated --dataset is reported per set and for all together:

    python -m colorization.evaluate --protocol=full --output_dir=eval/full \
        --dataset=voc_dir:../shared/data/voc2012_animals,voc_dir:../shared/data/voc_street
"""

import base64
import html
import json
import os

import numpy as np
from absl import flags

from colorization import cli
from colorization.config import DEFAULT_TEMPERATURE

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string(
        "model",
        None,
        "Model: .keras file, model_dir or checkpoint (full: also SavedModel, .tflite).",
    )
    flags.DEFINE_enum(
        "protocol",
        "crop",
        ["crop", "full"],
        "crop: centre crops at the model's size; full: whole photos at their own size through "
        "the colorize path, with bootstrap intervals.",
    )
    flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamples for --protocol=full.")
    flags.DEFINE_string("second_model", "", "Optional second model (e.g. an ablation).")
    flags.DEFINE_string("dataset", None, "Source spec; default: the model's validation data.")
    flags.DEFINE_string("split", "val", "Split.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    flags.DEFINE_string("output_dir", None, "Where to write metrics.json and the report.")
    flags.DEFINE_integer(
        "image_size",
        0,
        "crop: evaluation crop size; full: the network's input size S for colouring (the same "
        "weights rebuilt at S); 0 = the model's input size.",
    )
    flags.DEFINE_float(
        "temperature",
        None,
        "Annealed-mean temperature; default: the model's (config.json), else "
        f"{DEFAULT_TEMPERATURE}.",
    )
    flags.DEFINE_list("temperatures", [], "Optional sweep of temperatures (sensitivity table).")
    flags.DEFINE_integer("max_examples", 0, "Evaluate at most this many images (0 = all).")
    flags.DEFINE_integer("report_images", 8, "Images in the contact sheet and report.")
    flags.DEFINE_integer("batch_size", 16, "Evaluation batch size.")
    flags.mark_flags_as_required(["model", "output_dir"])
    flags.register_validator(
        "temperature", lambda t: t is None or t > 0, "--temperature must be > 0"
    )


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


def run_evaluation(
    model_path,
    output_dir,
    dataset=None,
    split="val",
    second_model="",
    temperature=DEFAULT_TEMPERATURE,
    temperatures=(),
    max_examples=0,
    report_images=8,
    batch_size=16,
    image_size=0,
    data_dir=None,
):
    """Evaluates and writes the outputs; returns the metrics dict that went to metrics.json."""
    import tensorflow as tf

    from colorization import evaluation, model_files
    from data_prep import pipeline, priors, sources

    models, configs = {}, {}
    for path in filter(None, (model_path, second_model)):
        name = os.path.basename(os.path.normpath(path)) or path
        if name in models or name == evaluation.GREY:
            name = f"{name}_{len(models)}"
        models[name], configs[name] = model_files.load_model_dir(path)
    first = next(iter(models.values()))
    size = image_size or first.input_shape[1]
    config = next(iter(configs.values()))
    spec = dataset or (config.val_dataset or config.dataset if config else None)
    if not spec:
        raise ValueError("--dataset is needed when the model carries no training config.")
    if not any(sources.has_splits(part) for part in sources.split_spec(spec)):
        split = "train"  # these sources have a single split
    source = sources.load_source(spec, split, data_dir)
    print(source.summary(), flush=True)
    eval_config = pipeline.PipelineConfig(
        image_size=size, batch_size=batch_size, training=False, with_rgb=True
    )
    weights = priors.uniform_priors().weights
    data = pipeline.build_dataset(source, eval_config, weights)
    for name, model in models.items():
        if model.input_shape[1] != size:
            raise ValueError(
                f"Model {name} takes {model.input_shape[1]} px; evaluating at {size} needs the same size."
            )
    result = evaluation.evaluate_models(
        models, data, temperature, max_examples, keep_images=report_images
    )
    names = [evaluation.GREY, *models]
    result["per_class"] = evaluation.per_class_table(result["records"], names)
    sweep = {}
    for t in temperatures:
        swept = evaluation.evaluate_models(models, data, float(t), max_examples, keep_images=0)
        sweep[str(t)] = {n: swept["metrics"][n] for n in models}
    os.makedirs(output_dir, exist_ok=True)
    settings = {
        "dataset": spec,
        "split": split,
        "image_size": size,
        "temperature": temperature,
        "models": {
            n: p for n, p in zip(models, filter(None, (model_path, second_model)), strict=True)
        },
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
    with open(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump(summary, f, indent=2)
    images = result["images"]
    sheet = evaluation.image_grid(
        [images[n] for n in names] + [images["truth"]], max_rows=report_images
    )
    tf.io.write_file(os.path.join(output_dir, "contact_sheet.png"), tf.io.encode_png(sheet))
    write_report(os.path.join(output_dir, "report.html"), result, names, settings)
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
    print(f"Wrote {output_dir}/metrics.json, contact_sheet.png, report.html")
    return summary


def _format_row(name, summary, group):
    m, iv = summary[group], summary["interval"][group]
    return (
        f"| {name} | {group} | {summary['num_images']} | {m['auc']:.2f} "
        f"[{iv['auc'][0]:.2f}, {iv['auc'][1]:.2f}] | {m['rebalanced_auc']:.2f} "
        f"[{iv['rebalanced_auc'][0]:.2f}, {iv['rebalanced_auc'][1]:.2f}] | {m['psnr']:.2f} | "
        f"{100 * m['colorfulness_ratio']:.0f}% |"
    )


def run_full_evaluation(
    model_path,
    output_dir,
    dataset,
    split="val",
    temperature=None,
    max_examples=0,
    report_images=8,
    num_bootstrap=1000,
    data_dir=None,
    image_size=0,
):
    """--protocol=full: scores whole photos through the colorize path; returns the summary."""
    import tensorflow as tf

    from colorization import evaluation, photo_eval
    from colorization.inference import Colorizer
    from data_prep import pipeline, sources

    colorizer = Colorizer(model_path, temperature=temperature, image_size=image_size or None)
    spec = dataset or _model_val_spec(model_path)
    parts = sources.split_spec(spec)
    all_records, per_set, sheet_rows = [], {}, []
    for part in parts:
        part_split = split if sources.has_splits(part) else "train"
        source = sources.load_source(part, part_split, data_dir)
        print(source.summary(), flush=True)
        config = pipeline.PipelineConfig(training=False, batch_size=1)
        photos = (
            (e["image"].numpy(), int(e["label"].numpy())) for e in pipeline.decoded(source, config)
        )
        records = photo_eval.evaluate_photos(
            colorizer.colorize_batch, photos, max_examples, keep_images=report_images
        )
        summary = photo_eval.summarize(records, num_bootstrap)
        summary["class"] = photo_eval.class_accuracy(records)
        per_set[part] = summary
        all_records += records
        # Grey | ours | truth for the first photos of each set.
        for image, coloured in (r["images"] for r in records[:report_images]):
            grey = np.repeat(np.asarray(tf.image.rgb_to_grayscale(image)), 3, -1)
            sheet_rows.append([grey, coloured, image])
    combined = photo_eval.summarize(all_records, num_bootstrap) if len(parts) > 1 else None
    if combined is not None:
        combined["class"] = photo_eval.class_accuracy(all_records)
    os.makedirs(output_dir, exist_ok=True)
    result = {
        "settings": {
            "protocol": "full",
            "model": model_path,
            "dataset": spec,
            "split": split,
            "temperature": colorizer.temperature,
            "num_bootstrap": num_bootstrap,
            "image_size": image_size or "the model's own",
            "interval": "95 % percentile bootstrap over photos",
        },
        "per_set": per_set,
        "all": combined,
    }
    with open(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    if sheet_rows:
        sheet = evaluation.photo_sheet(sheet_rows, height=160)
        tf.io.write_file(os.path.join(output_dir, "contact_sheet.png"), tf.io.encode_png(sheet))
    print(
        "| set | method | photos | AuC [95% CI] | rebalanced AuC [95% CI] | PSNR | colourfulness |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = [*per_set.items(), *((("all", combined),) if combined else ())]
    for name, summary in rows:
        for group in ("grey", "model"):
            print(_format_row(name, summary, group))
    for name, summary in rows:
        d, iv = summary["difference"], summary["interval"]["difference"]
        cls = summary["class"]
        print(
            f"{name}: model - grey: AuC {d['auc']:+.2f} [{iv['auc'][0]:+.2f}, {iv['auc'][1]:+.2f}], "
            f"rebalanced AuC {d['rebalanced_auc']:+.2f} [{iv['rebalanced_auc'][0]:+.2f}, "
            f"{iv['rebalanced_auc'][1]:+.2f}]"
            + (
                f"; class top-1 {cls['top1_accuracy']:.1f}% on {cls['num_labelled']} labelled "
                f"(majority class {cls['majority_class_accuracy']:.1f}%)"
                if cls.get("num_labelled")
                else ""
            )
        )
    print(f"Wrote {output_dir}/metrics.json" + (", contact_sheet.png" if sheet_rows else ""))
    return result


def _model_val_spec(model_path):
    from colorization import model_files

    _, config = model_files.load_model_dir(model_path)
    if config is None:
        raise ValueError("--dataset is needed when the model carries no training config.")
    return config.val_dataset or config.dataset


def main(argv):
    from colorization import model_files

    del argv
    try:
        temperatures = [float(t) for t in FLAGS.temperatures]
    except ValueError:
        raise cli.CommandError(
            f"--temperatures must be numbers. Received: {FLAGS.temperatures}"
        ) from None
    if any(t <= 0 for t in temperatures):
        raise cli.CommandError(f"--temperatures must be > 0. Received: {temperatures}")
    for path in filter(None, (FLAGS.model, FLAGS.second_model)):
        if not model_files.exists(path):
            raise cli.CommandError(f"model {path!r} does not exist.")
    from data_prep.sources import SourceError

    if FLAGS.protocol == "full":
        try:
            run_full_evaluation(
                FLAGS.model,
                FLAGS.output_dir,
                FLAGS.dataset,
                FLAGS.split,
                FLAGS.temperature,
                FLAGS.max_examples,
                FLAGS.report_images,
                FLAGS.bootstrap,
                FLAGS.data_dir,
                FLAGS.image_size,
            )
        except (SourceError, ValueError) as e:
            raise cli.CommandError(str(e)) from None
        return 0
    try:
        run_evaluation(
            FLAGS.model,
            FLAGS.output_dir,
            FLAGS.dataset,
            FLAGS.split,
            FLAGS.second_model,
            DEFAULT_TEMPERATURE if FLAGS.temperature is None else FLAGS.temperature,
            temperatures,
            FLAGS.max_examples,
            FLAGS.report_images,
            FLAGS.batch_size,
            FLAGS.image_size,
            FLAGS.data_dir,
        )
    except (SourceError, ValueError) as e:
        raise cli.CommandError(str(e)) from None
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
