"""Does longer training pay? One run's checkpoints scored on the same val photos.

    python -m benchmarks.learning_curve --model_dir=runs/curve --steps=2000,4000,6000,8000 \
        --data_root=data --dataset='voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos/*' \
        --per_set=40 --output=docs/learning_curve

Every checkpoint MODEL_DIR/checkpoints/ckpt-N of --steps colours the same val photos through
the colorize path (the full evaluation protocol, at --image_size and --temperature; its
outputs go to --eval_dir, by default MODEL_DIR/learning_curve/), each
set and pooled. The last checkpoint is paired with every earlier one (95 % bootstrap
intervals of "last − earlier"): an interval above zero says the extra steps paid on that
metric. Writes OUTPUT.json (every figure, and the minutes of training to each checkpoint)
and OUTPUT.svg (the pooled curves: AuC and rebalanced AuC above grey, brown-cast share and
blotch, each point with its 95 % interval), and prints a Markdown table.
"""

import json
import os

from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS
# The pooled figures the plot shows: (metric key, label, unit).
CURVES = (
    ("auc", "AuC − grey", "points"),
    ("rebalanced_auc", "rebalanced AuC − grey", "points"),
    ("sepia_share", "brown-cast share", "% of photos"),
    ("blotch", "blotch", "ab units"),
)
# Figures read as they are rather than above grey.
ABSOLUTE = ("sepia_share", "blotch")


def define_flags():
    flags.DEFINE_string("model_dir", None, "Training run whose checkpoints are scored.")
    flags.DEFINE_list("steps", [], "Checkpoint steps to score (ckpt-N), e.g. 2000,4000,8000.")
    cli.define_data_root_flag()
    flags.DEFINE_string("dataset", "", "Val sets (default: the run's own val data).")
    flags.DEFINE_integer("per_set", 40, "Val photos per set (0 = all).", lower_bound=0)
    flags.DEFINE_integer("image_size", 224, "Size S the checkpoints colour at.", lower_bound=32)
    cli.define_temperature_flag(0.5, "Annealed-mean temperature.")
    flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamples.", lower_bound=10)
    flags.DEFINE_string("output", None, "Path prefix of OUTPUT.json and OUTPUT.svg.")
    flags.DEFINE_string(
        "eval_dir", "", "Where the evaluation's outputs go; default MODEL_DIR/learning_curve."
    )
    flags.mark_flags_as_required(["model_dir", "output"])


def checkpoint_steps(model_dir, steps):
    """[(step, checkpoint prefix)] sorted by step; CommandError naming a missing one."""
    try:
        numbers = sorted({int(s) for s in steps})
    except ValueError:
        raise cli.CommandError(f"--steps must be whole numbers. Received: {steps}") from None
    if len(numbers) < 2:
        raise cli.CommandError(f"--steps needs at least two checkpoints. Received: {steps}")
    found = []
    for step in numbers:
        prefix = os.path.join(model_dir, "checkpoints", f"ckpt-{step}")
        if not os.path.exists(prefix + ".index"):
            raise cli.CommandError(f"no checkpoint {prefix} (expected {prefix}.index).")
        found.append((step, prefix))
    return found


def checkpoint_minutes(model_dir, steps):
    """Minutes from the run's start (its config.json written) to each checkpoint file: the
    wall clock of training to that step (a resumed run's pause included)."""
    start = os.path.getmtime(os.path.join(model_dir, "config.json"))
    return {
        step: (
            os.path.getmtime(os.path.join(model_dir, "checkpoints", f"ckpt-{step}.index")) - start
        )
        / 60
        for step in steps
    }


def curve_rows(result, steps, minutes=None):
    """Per step, the pooled (or single set's) figures: each metric minus grey (the brown-cast
    share and blotch as they are) with its interval, and the last step minus this one;
    `minutes` {step: minutes} when known."""
    summary = result.get("all") or next(iter(result["per_set"].values()))
    last = f"step_{steps[-1]}"
    rows = []
    for step in steps:
        name = f"step_{step}"
        row = {"step": step}
        if minutes:
            row["minutes"] = round(minutes[step], 1)
        for key, _, _ in CURVES:
            if key in ABSOLUTE:
                value = summary["metrics"][name][key]
                interval = summary["interval"]["metrics"][name][key]
            else:
                value = summary["differences"][f"{name} - grey"][key]
                interval = summary["interval"]["differences"][f"{name} - grey"][key]
            row[key] = {"value": value, "interval": interval}
            if name != last:
                pair = f"{last} - {name}"
                row[key]["last_minus_this"] = {
                    "value": summary["differences"][pair][key],
                    "interval": summary["interval"]["differences"][pair][key],
                }
        rows.append(row)
    return rows


def _interval_text(figure, signed=True):
    low, high = figure["interval"]
    sign = "+" if signed else ""
    return f"{figure['value']:{sign}.2f} [{low:{sign}.2f}, {high:{sign}.2f}]"


def markdown_table(rows):
    last = rows[-1]["step"]
    header = "| steps | minutes | " + " | ".join(label for _, label, _ in CURVES)
    header += " | " + " | ".join(f"{label}: {last} − this" for _, label, _ in CURVES) + " |"
    lines = [header, "|---" * (2 + 2 * len(CURVES)) + "|"]
    for row in rows:
        cells = [_interval_text(row[k], k not in ABSOLUTE) for k, _, _ in CURVES]
        cells += [
            _interval_text(row[k]["last_minus_this"]) if "last_minus_this" in row[k] else "—"
            for k, _, _ in CURVES
        ]
        minutes = f"{row['minutes']:.0f}" if "minutes" in row else "—"
        lines.append(f"| {row['step']:,} | {minutes} | " + " | ".join(cells) + " |")
    return lines


def svg_plot(rows, width=300, height=190):
    """Small panels side by side, one per curve: each step's value and its interval
    bar, on an axis that holds every interval. A plain SVG (no plotting library)."""
    margin_left, margin_bottom, margin_top = 46, 30, 24
    steps = [r["step"] for r in rows]
    panels = []
    for i, (key, label, unit) in enumerate(CURVES):
        values = [r[key]["value"] for r in rows]
        lows = [r[key]["interval"][0] for r in rows]
        highs = [r[key]["interval"][1] for r in rows]
        y_low, y_high = min(lows), max(highs)
        pad = 0.1 * (y_high - y_low or 1.0)
        y_low, y_high = y_low - pad, y_high + pad
        plot_w, plot_h = width - margin_left - 10, height - margin_top - margin_bottom

        first, last = min(steps), max(steps)

        def x_of(step, first=first, last=last, plot_w=plot_w):
            # 12 pixels in from each end, so no interval bar sits on the axis.
            return margin_left + 12 + (plot_w - 24) * (step - first) / (last - first)

        def y_of(value, y_low=y_low, y_high=y_high, plot_h=plot_h):
            return margin_top + plot_h * (1 - (value - y_low) / (y_high - y_low))

        x0 = i * width
        parts = [f'<g transform="translate({x0},0)">']
        parts.append(
            f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="12">{label} '
            f"({unit})</text>"
        )
        parts.append(
            f'<line x1="{margin_left}" y1="{margin_top + plot_h}" x2="{margin_left + plot_w}" '
            f'y2="{margin_top + plot_h}" stroke="#444"/>'
            f'<line x1="{margin_left}" y1="{margin_top}" x2="{margin_left}" '
            f'y2="{margin_top + plot_h}" stroke="#444"/>'
        )
        for tick in (y_low + pad, (y_low + y_high) / 2, y_high - pad):
            parts.append(
                f'<text x="{margin_left - 4}" y="{y_of(tick) + 4:.1f}" text-anchor="end" '
                f'font-size="10">{tick:.1f}</text>'
            )
        for step in steps:
            parts.append(
                f'<text x="{x_of(step):.1f}" y="{margin_top + plot_h + 14}" '
                f'text-anchor="middle" font-size="10">{step // 1000}k</text>'
            )
        points = " ".join(
            f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in zip(steps, values, strict=True)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="#2a6fb0" stroke-width="2"/>')
        for s, v, lo, hi in zip(steps, values, lows, highs, strict=True):
            parts.append(
                f'<line x1="{x_of(s):.1f}" y1="{y_of(lo):.1f}" x2="{x_of(s):.1f}" '
                f'y2="{y_of(hi):.1f}" stroke="#2a6fb0"/>'
                f'<circle cx="{x_of(s):.1f}" cy="{y_of(v):.1f}" r="3" fill="#2a6fb0"/>'
            )
        parts.append(
            f'<text x="{margin_left + plot_w / 2}" y="{height - 4}" text-anchor="middle" '
            'font-size="10">training steps</text></g>'
        )
        panels.append("".join(parts))
    total = width * len(CURVES)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
        f'viewBox="0 0 {total} {height}" font-family="sans-serif">'
        f'<rect width="{total}" height="{height}" fill="white"/>' + "".join(panels) + "</svg>\n"
    )


def main(argv):
    if len(argv) > 1:
        raise cli.CommandError(f"Unexpected arguments: {argv[1:]}")
    checkpoints = checkpoint_steps(FLAGS.model_dir, FLAGS.steps)
    from colorization.evaluation.protocols import run_full
    from colorization.evaluation.settings import EvalConfig
    from data_prep.source_types import SourceError

    steps = [step for step, _ in checkpoints]
    # The last checkpoint first: the protocol pairs the first model with each other one.
    models = tuple((f"step_{step}", prefix) for step, prefix in reversed(checkpoints))
    config = EvalConfig(
        models=models,
        output_dir=FLAGS.eval_dir or os.path.join(FLAGS.model_dir, "learning_curve"),
        dataset=FLAGS.dataset,
        split="val",
        data_root=FLAGS.data_root,
        image_size=FLAGS.image_size,
        temperature=FLAGS.temperature,
        max_examples=FLAGS.per_set,
        report_images=2,
        num_bootstrap=FLAGS.bootstrap,
    )
    try:
        result = run_full(config)
    except SourceError as e:
        raise cli.CommandError(str(e)) from None
    rows = curve_rows(result, steps, checkpoint_minutes(FLAGS.model_dir, steps))
    record = {
        "model_dir": FLAGS.model_dir,
        "steps": steps,
        "image_size": FLAGS.image_size,
        "temperature": FLAGS.temperature,
        "per_set": FLAGS.per_set,
        "num_images": (result.get("all") or next(iter(result["per_set"].values())))["num_images"],
        "rows": rows,
        "evaluation": os.path.join(config.output_dir, "metrics.json"),
    }
    os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
    with open(FLAGS.output + ".json", "w") as f:
        json.dump(record, f, indent=2)
    with open(FLAGS.output + ".svg", "w") as f:
        f.write(svg_plot(rows))
    print("\n".join(markdown_table(rows)))
    print(f"Wrote {FLAGS.output}.json and {FLAGS.output}.svg")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
