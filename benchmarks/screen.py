"""Screens a change to the training recipe: a short run, scored against a reference run.

    python -m benchmarks.screen --name=base --data_root=data \
        --init_from=mobilenet_v2:mobilenet_v2_1.0_224_quant.tflite
    python -m benchmarks.screen --name=no_fusion --reference=base --train_flags="--fusion=false" \
        --data_root=data --init_from=mobilenet_v2:mobilenet_v2_1.0_224_quant.tflite

Every variant trains the `cpu` preset for the same short budget (--steps) from the same start
(--init_from), with the same seed, data order and colour priors (computed once, in
RUNS/priors.npz, unless the variant changes --mix_lambda), plus the variant's own
--train_flags (train_main.py's flags, checked before any work starts; the variant trains in
this process). It is then scored with the reference on the same val photos (whole photos
through the colorize path, --per_set of each set, paired 95 % bootstrap intervals), and one
row per variant goes to RUNS/screening.json and to the screening table of --table (between
its `<!-- screening:start -->` and `<!-- screening:end -->` lines). Rerunning a variant
resumes its training and replaces its row.

One training at a time: two at once on a small machine each run at a fraction of their speed,
and the table records minutes.
"""

import json
import os
import shlex
import time

from absl import flags

from colorization.core import cli, config_flags

FLAGS = flags.FLAGS

# Every set of the documented data layout, each scored on its own val split and pooled.
VAL_SETS = "voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos/*"
TRAIN_SET = "voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos"
# Every variant's training budget unless --steps says otherwise.
DEFAULT_STEPS = 2000
TABLE_START, TABLE_END = "<!-- screening:start -->", "<!-- screening:end -->"
SOURCES_START, SOURCES_END = "<!-- screening-sources:start -->", "<!-- screening-sources:end -->"
HEADER = (
    "| variant | flags | minutes | AuC − grey | rebalanced AuC − grey | colourfulness | "
    "brown-cast share | blotch | bleeding | class top-1 | rebalanced AuC − ref. [95 %] | "
    "brown-cast − ref. [95 %] | blotch − ref. [95 %] |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
)


def define_flags():
    flags.DEFINE_string("name", None, "Name of the variant (its folder under --runs).")
    flags.DEFINE_string("train_flags", "", "train_main.py flags of the variant.")
    flags.DEFINE_string(
        "reference", "", "Variant (a name under --runs) or model directory to pair with."
    )
    flags.DEFINE_string("runs", "runs/screen", "Folder of the screening runs.")
    cli.define_data_root_flag()
    flags.DEFINE_string("init_from", "imagenet", "The shared start (train_main --init_from).")
    flags.DEFINE_integer("steps", DEFAULT_STEPS, "Training steps of every variant.", lower_bound=1)
    flags.DEFINE_integer("warmup_steps", 100, "Warm-up steps of every variant.", lower_bound=0)
    flags.DEFINE_integer("batch_size", 16, "Batch size of every variant.", lower_bound=1)
    flags.DEFINE_integer(
        "checkpoint_every", 100, "Steps between checkpoints (a divisor of --steps).", lower_bound=1
    )
    flags.DEFINE_integer(
        "train_image_size", 0, "Training crop size S; 0 = the cpu preset's (160).", lower_bound=0
    )
    flags.DEFINE_integer(
        "eval_examples",
        64,
        "Val photos of the training run's own check at its end (samples.png, summary.json); "
        "the screening's figures come from the scoring that follows.",
        lower_bound=1,
    )
    flags.DEFINE_integer("seed", 0, "Seed of initialisation and data order.")
    flags.DEFINE_string("train_dataset", TRAIN_SET, "Training data (under --data_root).")
    flags.DEFINE_string("val_dataset", VAL_SETS, "Val sets (folder:DIR/* = one per subfolder).")
    flags.DEFINE_integer("per_set", 60, "Val photos per set (0 = all).", lower_bound=0)
    flags.DEFINE_integer("image_size", 224, "Size S the models colour at.", lower_bound=32)
    flags.DEFINE_float("temperature", 0.5, "Annealed-mean temperature of every model.")
    flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamples.", lower_bound=10)
    flags.DEFINE_string("table", "docs/experiments.md", "Markdown file with the table.")
    flags.mark_flags_as_required(["name"])


def _base_flags(model_dir, priors, steps, seed, init_from, data_root, dataset):
    """train_main.py flags shared by every variant (the schedule flags of this command)."""
    return [
        "--config=cpu",
        f"--data_root={data_root}",
        f"--dataset={dataset}",
        f"--init_from={init_from}",
        f"--model_dir={model_dir}",
        f"--steps={steps}",
        f"--warmup_steps={FLAGS.warmup_steps}",
        f"--batch_size={FLAGS.batch_size}",
        f"--checkpoint_every={FLAGS.checkpoint_every}",
        f"--eval_every={steps}",
        f"--eval_examples={FLAGS.eval_examples}",
        f"--seed={seed}",
        *([f"--image_size={FLAGS.train_image_size}"] if FLAGS.train_image_size else []),
        *([f"--priors={priors}"] if priors else []),
    ]


def shared_priors(runs, data_root, dataset, image_size=160, mix_lambda=0.8):
    """RUNS/priors.npz, computed once on the training photos (λ = 0.8, as the ablation)."""
    from data_prep import priors

    path = os.path.join(runs, "priors.npz")
    if not os.path.exists(path):
        print(f"Computing the shared priors of {dataset} (S={image_size}, λ={mix_lambda})")
        try:
            result = priors.priors_of(
                dataset, data_root=data_root, image_size=image_size, mix_lambda=mix_lambda
            )
        except ValueError as e:  # a SourceError among them
            raise cli.CommandError(f"--train_dataset={dataset!r}: {e}") from None
        result.save(path)
        print(f"Wrote {path}: {result.metadata['num_images']} photos", flush=True)
    return path


def train_config(name, train_flags, runs, priors, steps, seed, init_from, data_root, dataset):
    """The TrainConfig of variant `name`: the shared flags plus its --train_flags, validated
    (ValueError naming a bad flag; files are checked when it trains)."""
    extra = shlex.split(train_flags)
    if any(f.startswith("--mix_lambda") or f.startswith("--priors") for f in extra):
        priors = None  # the variant's own priors
    model_dir = os.path.join(runs, name)
    args = [*_base_flags(model_dir, priors, steps, seed, init_from, data_root, dataset), *extra]
    return config_flags.config_from_args(args)


def train(config):
    """Trains (or resumes) `config` in this process; returns the minutes of this call."""
    from colorization.core.config import ResumeError
    from colorization.model.imagenet_weights import PretrainedError
    from colorization.training import trainer
    from data_prep.sources import SourceError

    os.makedirs(config.model_dir, exist_ok=True)
    print(f"Training {config.model_dir}", flush=True)
    start = time.time()
    try:
        config.check_files()
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    try:
        trainer.train(config)
    except (SourceError, PretrainedError, ResumeError) as e:  # data, start or resume refused
        raise cli.CommandError(f"training {config.model_dir}: {e}") from None
    return (time.time() - start) / 60


def score(models, output_dir, val_dataset, data_root, per_set, image_size, temperature, bootstrap):
    """The full evaluation protocol on `models` [(name, path)]; returns metrics.json's dict."""
    from colorization.evaluation.command import EvalConfig, run_full

    config = EvalConfig(
        models=tuple(models),
        output_dir=output_dir,
        dataset=val_dataset,
        split="val",
        data_root=data_root,
        image_size=image_size,
        temperature=temperature,
        max_examples=per_set,
        report_images=4,
        num_bootstrap=bootstrap,
    )
    return run_full(config)


def _interval(value, bounds, scale=1.0):
    return f"{scale * value:+.2f} [{scale * bounds[0]:+.2f}, {scale * bounds[1]:+.2f}]"


def summary_row(name, flags_text, minutes, result, reference=None):
    """The variant's figures: pooled (and per set), against grey and the reference. With a
    single val set the evaluation has no pooled summary: that set's figures are pooled."""
    pooled = result.get("all")
    if pooled is None:
        if len(result["per_set"]) != 1:
            raise ValueError("an evaluation without a pooled summary must hold one set.")
        pooled = next(iter(result["per_set"].values()))
    row = {
        "variant": name,
        "flags": flags_text,
        "minutes": round(minutes, 1),
        "num_images": pooled["num_images"],
        "pooled": {},
        "per_set": {},
    }

    def figures(summary):
        m = summary["metrics"][name]
        d = summary["differences"][f"{name} - grey"]
        out = {
            "auc_minus_grey": d["auc"],
            "rebalanced_auc_minus_grey": d["rebalanced_auc"],
            "colorfulness_ratio": m["colorfulness_ratio"],
            "sepia_share": m["sepia_share"],
            "blotch": m.get("blotch"),
            "bleeding": m.get("bleeding"),
            "top1": summary["class"][name].get("top1_accuracy"),
        }
        if reference:
            key = f"{name} - {reference}"
            out["minus_reference"] = summary["differences"][key]
            out["minus_reference_interval"] = summary["interval"]["differences"][key]
        return out

    row["pooled"] = figures(pooled)
    for set_name, summary in result["per_set"].items():
        row["per_set"][set_name] = figures(summary)
    return row


def variant_flags(row):
    """What sets the variant apart from the base run: its seed, training data and budget when
    they differ, then its train_main flags, and its reference when that is not the base run."""
    parts = []
    if row.get("seed", 0):
        parts.append(f"--seed={row['seed']}")
    if row.get("steps", DEFAULT_STEPS) != DEFAULT_STEPS:
        parts.append(f"--steps={row['steps']}")
    if row.get("train_dataset", TRAIN_SET) != TRAIN_SET:
        parts.append(f"--dataset={row['train_dataset']}")
    if row["flags"]:
        parts.append(row["flags"])
    if row.get("reference") not in (None, "", "base"):
        parts.append(f"(against {row['reference']})")
    return " ".join(parts)


def markdown_row(row):
    p = row["pooled"]
    versus = "—", "—", "—"
    if "minus_reference" in p:
        d, iv = p["minus_reference"], p["minus_reference_interval"]
        versus = tuple(
            _interval(d[k], iv[k]) if k in d else "—"
            for k in ("rebalanced_auc", "sepia_share", "blotch")
        )
    top1 = "—" if p["top1"] is None else f"{p['top1']:.1f} %"
    edges = ["—" if p.get(k) is None else f"{p[k]:.2f}" for k in ("blotch", "bleeding")]
    return (
        f"| {row['variant']} | `{variant_flags(row) or '(base)'}` | {row['minutes']:.0f} | "
        f"{p['auc_minus_grey']:+.2f} | {p['rebalanced_auc_minus_grey']:+.2f} | "
        f"{100 * p['colorfulness_ratio']:.0f} % | {p['sepia_share']:.1f} % | {edges[0]} | "
        f"{edges[1]} | {top1} | {versus[0]} | {versus[1]} | {versus[2]} |"
    )


def source_table(rows):
    """Lines of a Markdown table: per source, each variant's paired difference from its
    reference, "rebalanced AuC / brown-cast share" (points). Variants without a reference
    are left out; None when no variant has one."""
    paired = [r for r in rows if "minus_reference" in r["pooled"]]
    if not paired:
        return None
    sets = list(paired[0]["per_set"])
    lines = [
        "| source | " + " | ".join(r["variant"] for r in paired) + " |",
        "|---|" + "---|" * len(paired),
    ]
    for set_name in [*sets, None]:
        cells = []
        for r in paired:
            figures = r["pooled"] if set_name is None else r["per_set"].get(set_name)
            if not figures or "minus_reference" not in figures:
                cells.append("—")
                continue
            d = figures["minus_reference"]
            cells.append(f"{d['rebalanced_auc']:+.2f} / {d['sepia_share']:+.1f}")
        label = "**pooled**" if set_name is None else set_name.split(":", 1)[-1]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _replace_between(text, start, end, lines):
    block = "\n".join([start, *lines, end])
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def update_table(path, rows):
    """Rewrites the screening table of the Markdown file at `path` from `rows`, and the
    per-source table of differences from the reference (when a variant has one)."""
    text = open(path).read() if os.path.exists(path) else ""
    text = _replace_between(
        text, TABLE_START, TABLE_END, [*HEADER, *(markdown_row(r) for r in rows)]
    )
    sources_lines = source_table(rows)
    if sources_lines:
        text = _replace_between(text, SOURCES_START, SOURCES_END, sources_lines)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main(argv):
    del argv
    if FLAGS.temperature <= 0:
        raise cli.CommandError(f"--temperature must be > 0. Received: {FLAGS.temperature}")
    try:
        shlex.split(FLAGS.train_flags)
    except ValueError as e:
        raise cli.CommandError(f"--train_flags={FLAGS.train_flags!r}: {e}") from None
    reference_path = ""
    if FLAGS.reference:
        reference_path = (
            FLAGS.reference
            if os.path.isdir(FLAGS.reference)
            else os.path.join(FLAGS.runs, FLAGS.reference)
        )
        if not os.path.exists(os.path.join(reference_path, "model.keras")):
            raise cli.CommandError(
                f"--reference={FLAGS.reference!r}: no trained model at {reference_path}."
            )
    variant = (FLAGS.name, FLAGS.train_flags, FLAGS.runs)
    schedule = (FLAGS.steps, FLAGS.seed, FLAGS.init_from, FLAGS.data_root, FLAGS.train_dataset)
    # The variant's flags are checked before the priors are computed or anything trains.
    try:
        train_config(*variant, None, *schedule)
    except ValueError as e:
        raise cli.CommandError(f"--train_flags={FLAGS.train_flags!r}: {e}") from None
    os.makedirs(FLAGS.runs, exist_ok=True)
    priors = shared_priors(
        FLAGS.runs, FLAGS.data_root, FLAGS.train_dataset, FLAGS.train_image_size or 160
    )
    config = train_config(*variant, priors, *schedule)
    minutes = train(config)
    model_dir = config.model_dir
    # A resumed run reports the wall time of the whole training (summary.json).
    with open(os.path.join(model_dir, "summary.json")) as f:
        summary = json.load(f)
    minutes = max(minutes, summary.get("wall_time_s", 0) / 60)
    reference_name = "reference" if FLAGS.reference else None
    models = [(FLAGS.name, model_dir)] + (
        [(reference_name, reference_path)] if reference_name else []
    )
    result = score(
        models,
        os.path.join(model_dir, "eval"),
        FLAGS.val_dataset,
        FLAGS.data_root,
        FLAGS.per_set,
        FLAGS.image_size,
        FLAGS.temperature,
        FLAGS.bootstrap,
    )
    row = summary_row(FLAGS.name, FLAGS.train_flags, minutes, result, reference_name)
    row["reference"] = FLAGS.reference
    row["seed"] = FLAGS.seed
    row["train_dataset"] = FLAGS.train_dataset
    row["steps"] = FLAGS.steps
    results_path = os.path.join(FLAGS.runs, "screening.json")
    rows = json.load(open(results_path)) if os.path.exists(results_path) else []
    rows = [r for r in rows if r["variant"] != FLAGS.name] + [row]
    with open(results_path, "w") as f:
        json.dump(rows, f, indent=2)
    update_table(FLAGS.table, rows)
    print(markdown_row(row))
    print(f"Wrote {results_path} and the table in {FLAGS.table}")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
