"""Colouring an archive: the colorize command's photos a second against the network's own
ceiling at the same size, and the Beam pipeline on its local runner, on a generated folder.

    python -m benchmarks.archive [--photos=500] [--output=benchmarks/archive.json]

The folder holds grey JPEGs of mixed sizes around 500 px (scikit-image's photos, cropped and
resized per photo). Rates count photos written after start-up (the model loaded); the
network's ceiling is its forward pass alone on batches of S x S inputs, the same batch size.
"""

import argparse
import io
import json
import os
import re
import tempfile
import time

import numpy as np


def make_folder(folder, count, seed=0):
    """`count` grey JPEGs of 400-600 px wide, aspect 0.6-1.4, in `folder`."""
    import skimage.data
    from PIL import Image

    sources = [
        skimage.data.astronaut(),
        skimage.data.chelsea(),
        skimage.data.coffee(),
        skimage.data.rocket(),
        skimage.data.immunohistochemistry(),
    ]
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        source = sources[i % len(sources)]
        height, width = source.shape[:2]
        top, left = rng.integers(0, height // 4), rng.integers(0, width // 4)
        crop = Image.fromarray(source[top:, left:]).convert("L")
        new_width = int(rng.integers(400, 601))
        new_height = int(new_width * rng.uniform(0.6, 1.4))
        crop.resize((new_width, new_height)).save(
            os.path.join(folder, f"photo_{i:05d}.jpg"), quality=90
        )


def peak_memory_mb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--output", default="benchmarks/archive.json")
    args = parser.parse_args()

    from colorization import beam
    from colorization.archive.command import run_colorize
    from colorization.archive.steps import Steps
    from colorization.inference.colorizer import Colorizer

    results = {"photos": args.photos, "batch_size": args.batch_size, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as root:
        folder = os.path.join(root, "in")
        make_folder(folder, args.photos)
        colorizer = Colorizer()
        steps = Steps(colorizer, batch_size=args.batch_size)
        size = steps.size
        # The network's ceiling: its forward pass alone, batches of S x S.
        inputs = np.random.default_rng(0).uniform(0, 100, (args.batch_size, size, size, 1))
        steps.network_ab(inputs)
        batches = max(4, args.photos // (4 * args.batch_size))
        start = time.perf_counter()
        for _ in range(batches):
            steps.network_ab(inputs)
        network = batches * args.batch_size / (time.perf_counter() - start)

        # The command, after start-up (its summary times the photos, not the model loading).
        start = time.perf_counter()
        summary = run_colorize(
            [folder],
            None,
            os.path.join(root, "cli"),
            batch_size=args.batch_size,
            stream=io.StringIO(),
        )
        cli_wall = time.perf_counter() - start
        cli = summary["written"] / summary["seconds"]
        cli_memory = peak_memory_mb()

        start = time.perf_counter()
        beam.run(
            [
                f"--input={folder}/*",
                f"--output_dir={os.path.join(root, 'beam')}",
                f"--batch_size={args.batch_size}",
            ]
        )
        beam_seconds = time.perf_counter() - start
    results.update(
        network_size=size,
        network_photos_per_s=round(network, 1),
        cli_photos_per_s=round(cli, 1),
        cli_seconds_with_start_up=round(cli_wall, 1),
        cli_over_network=round(network / cli, 2),
        peak_memory_mb=round(cli_memory),
        beam_local_photos_per_s=round(args.photos / beam_seconds, 1),
    )
    print(f"| path | photos/s ({args.photos} photos of 400-600 px, S={size}) |")
    print("|---|---|")
    print(f"| network alone (batches of {args.batch_size}) | {network:.1f} |")
    print(
        f"| python -m colorization.colorize, after start-up | {cli:.1f} "
        f"({network / cli:.2f}x below the network) |"
    )
    print(f"| Beam, local runner, with start-up | {args.photos / beam_seconds:.1f} |")
    print(f"Peak memory of the process after the command: {cli_memory:.0f} MB")
    with open(args.output, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
