"""`python -m colorization.beam`: colour an archive with Apache Beam (the `beam` extra).

    python -m colorization.beam --input='album/**/*.jpg' --output_dir=out [--model=...]
        [--temperature=T] [--batch_size=8] [--overwrite] [Beam pipeline options]

The same outputs and manifest as `python -m colorization.colorize` (colorization/archive/
beam_pipeline.py); Beam's own options (--runner, --direct_num_workers, --flink_master, ...)
pass through to the pipeline. docs/deployment.md shows Flink, Spark and Dataflow.
"""

import argparse
import glob
import os
import sys

from colorization.archive.photo_files import DEFAULT_MAX_PIXELS
from colorization.archive.steps import DEFAULT_BATCH_SIZE
from colorization.core.config import checked_temperature


def _temperature(text):
    try:
        return checked_temperature(float(text), "--temperature")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m colorization.beam", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--input", required=True, help="a glob of photo files ('**' recurses)")
    parser.add_argument("--output_dir", required=True, help="where the PNGs and manifest go")
    parser.add_argument("--model", default=None, help="default: the shipped colorizer")
    parser.add_argument("--temperature", type=_temperature, default=None)
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--max_pixels", type=int, default=DEFAULT_MAX_PIXELS)
    parser.add_argument("--side_by_side", action="store_true")
    parser.add_argument("--overwrite", action="store_true")
    args, beam_args = parser.parse_known_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch_size must be >= 1. Received: {args.batch_size}")
    if args.max_pixels < 1:
        parser.error(f"--max_pixels must be >= 1. Received: {args.max_pixels}")
    return args, beam_args


def run(argv=None):
    """Runs the pipeline; returns {"written", "kept", "failed", "failures"}."""
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from colorization.archive import beam_pipeline
    from colorization.archive import manifest as manifest_lib
    from colorization.archive.photo_files import PHOTO_EXTENSIONS
    from colorization.archive.runner import plan
    from colorization.inference.colorizer import Colorizer

    files = sorted(
        p
        for p in glob.glob(args.input, recursive=True)
        if os.path.isfile(p) and p.lower().endswith(PHOTO_EXTENSIONS)
    )
    if not files:
        print(f"error: --input={args.input!r} matches no photo files.", file=sys.stderr)
        return None
    try:
        colorizer = Colorizer(args.model, temperature=args.temperature)
    except ValueError as e:
        print(f"error: --model: {e}", file=sys.stderr)
        return None
    settings = manifest_lib.settings_of(colorizer, colorizer.temperature, args.side_by_side)
    manifest, todo, kept = plan(files, args.output_dir, settings, args.overwrite)
    kept_records = [manifest.records[name] for _, name in kept]
    print(
        f"Colouring {len(todo)} photos ({len(kept)} kept) with {colorizer.path} into "
        f"{args.output_dir}",
        flush=True,
    )
    options = PipelineOptions(beam_args)
    with beam.Pipeline(options=options) as pipeline:
        beam_pipeline.build(
            pipeline,
            todo,
            kept_records,
            args.output_dir,
            settings,
            colorizer.path,
            colorizer.temperature,
            args.batch_size,
            args.max_pixels,
            args.side_by_side,
        )
    metrics = pipeline.result.metrics().query()["counters"]
    counts = {
        m.key.metric.name: m.committed
        for m in metrics
        if m.key.metric.namespace == beam_pipeline.NAMESPACE
    }
    summary = {
        "written": counts.get("written", 0),
        "kept": len(kept),
        "failed": counts.get("failed", 0),
    }
    print(
        f"Done: {summary['written']} written, {summary['kept']} kept, {summary['failed']} failed.",
        flush=True,
    )
    return summary


def main():
    summary = run()
    sys.exit(2 if summary is None else (1 if summary["failed"] and not summary["written"] else 0))


if __name__ == "__main__":
    main()
