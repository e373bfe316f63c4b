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
through the colorize path, --per_set of each set, paired 95 % bootstrap intervals; every
coloured photo is kept in RUNS/score_cache, so the reference is coloured once), and one
row per variant goes to RUNS/screening.json and, with --table=FILE.md, to the screening
table of that file (between its `<!-- screening:start -->` and `<!-- screening:end -->`
lines). Rerunning a variant resumes its training (a finished one is only scored again, its
summary.json kept) and replaces its row.

One training at a time: two at once on a small machine each run at a fraction of their speed,
and the table records minutes.
"""

import json
import os
import shlex
import time

from absl import flags

from benchmarks.screening_table import (
    DEFAULT_STEPS,
    TRAIN_SET,
    markdown_row,
    summary_row,
    update_table,
)
from colorization.core import cli, config_flags

FLAGS = flags.FLAGS

# Every set of the documented data layout, each scored on its own val split and pooled.
VAL_SETS = "voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos/*"


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
    cli.define_temperature_flag(0.5, "Annealed-mean temperature of every model.")
    flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamples.", lower_bound=10)
    flags.DEFINE_string(
        "score_cache",
        None,
        "Folder keeping the coloured val photos of every model scored, so the reference is "
        "coloured once for all variants (colorization.evaluation.score_cache); default: "
        "RUNS/score_cache; '' = none.",
    )
    flags.DEFINE_string(
        "table",
        "",
        "Markdown file whose screening table is rewritten from RUNS/screening.json (e.g. "
        "docs/experiments.md); empty = none.",
    )
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


def finished(model_dir, steps):
    """Whether `model_dir` holds a run trained to `steps`: its model.keras and a
    summary.json that says so (a resume would only rewrite the summary)."""
    path = os.path.join(model_dir, "summary.json")
    if not (os.path.exists(path) and os.path.exists(os.path.join(model_dir, "model.keras"))):
        return False
    with open(path) as f:
        return json.load(f).get("steps") == steps


def train(config):
    """Trains (or resumes) `config` in this process; returns the minutes of this call."""
    from colorization.core.config import ResumeError
    from colorization.model.imagenet_weights import PretrainedError
    from colorization.training import trainer
    from data_prep.source_types import SourceError

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


def score(
    models,
    output_dir,
    val_dataset,
    data_root,
    per_set,
    image_size,
    temperature,
    bootstrap,
    cache="",
):
    """The full evaluation protocol on `models` [(name, path)], its coloured photos kept in
    `cache` (a folder; "" = none); returns metrics.json's dict."""
    from colorization.evaluation.protocols import run_full
    from colorization.evaluation.settings import EvalConfig

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
        score_cache=cache,
    )
    return run_full(config)


def main(argv):
    del argv
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
    model_dir = config.model_dir
    summary_path = os.path.join(model_dir, "summary.json")
    if finished(model_dir, config.steps):
        print(f"{model_dir} is trained ({config.steps} steps): scoring it again.", flush=True)
        minutes = 0.0
    else:
        minutes = train(config)
    # A resumed or finished run reports the wall time of the whole training (summary.json).
    with open(summary_path) as f:
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
        os.path.join(FLAGS.runs, "score_cache") if FLAGS.score_cache is None else FLAGS.score_cache,
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
    print(markdown_row(row))
    if FLAGS.table:
        update_table(FLAGS.table, rows)
        print(f"Wrote {results_path} and the table in {FLAGS.table}")
    else:
        print(f"Wrote {results_path}")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
