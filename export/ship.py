"""Makes a trained model_dir the colorizer that ships with the package.

    python -m export.ship --model_dir=runs/release --image_size=224 --temperature=0.5

Writes colorization/pretrained/ (or --output_dir): model.keras rebuilt at the inference
size S (the weights do not depend on S), config.json (the training config, with the chosen
temperature as the model's default), priors.npz, and summary.json (the training summary plus
a "shipped" block saying what was chosen and how). The MobileNetV2 licence file that sits
there stays. Prints the size and the load time of the result.
"""

import json
import os
import shutil
import time

from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "Training model_dir to ship.")
    flags.DEFINE_integer("image_size", 0, "Network input size S to colour at; 0 = as trained.")
    cli.define_temperature_flag(None, "Default annealed-mean temperature; None = as trained.")
    flags.DEFINE_string(
        "chosen_on", "", "How S and the temperature were chosen (for summary.json)."
    )
    flags.DEFINE_string("output_dir", None, "Default: colorization/pretrained in this package.")
    flags.DEFINE_string(
        "data_root",
        None,
        "The data root the shipped config.json names (where the relative paths of its "
        "dataset specs are read, e.g. `data` as README.md lays it out); default: the run's.",
    )
    flags.mark_flags_as_required(["model_dir"])


def ship(model_dir, output_dir, image_size=0, temperature=None, chosen_on="", data_root=None):
    """Writes the shipped model directory; returns (path of model.keras, bytes)."""
    import dataclasses

    from colorization.core.config import check_backbone_image_size
    from colorization.model import model_files
    from colorization.model.network import at_image_size

    model, config = model_files.load_model_dir(model_dir)
    if config is None:
        raise ValueError(f"{model_dir!r} is not a training model_dir (no config.json).")
    trained_size = config.model.image_size
    size = image_size or trained_size
    check_backbone_image_size(config.model.backbone, size)
    model = at_image_size(model, config.model, size)
    if temperature is not None:
        config = dataclasses.replace(config, temperature=temperature)
    trained_root = config.data_root
    if data_root is not None:
        config = dataclasses.replace(config, data_root=data_root)
    os.makedirs(output_dir, exist_ok=True)
    target = os.path.join(output_dir, "model.keras")
    model.save(target)
    with open(os.path.join(output_dir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    shutil.copy(os.path.join(model_dir, "priors.npz"), os.path.join(output_dir, "priors.npz"))
    with open(os.path.join(model_dir, "summary.json")) as f:
        summary = json.load(f)
    if data_root is not None:
        # The same data named from the new root, in the run's record too.
        summary.setdefault("config", {})["data_root"] = data_root
        for key in ("train_source", "val_source"):
            if trained_root and isinstance(summary.get(key), str):
                summary[key] = summary[key].replace(
                    os.path.join(trained_root, ""), os.path.join(data_root, "")
                )
    summary["shipped"] = {
        "from": model_dir,
        "trained_image_size": trained_size,
        "inference_image_size": size,
        "temperature": config.temperature,
        "chosen_on": chosen_on,
    }
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return target, os.path.getsize(target)


def main(argv):
    del argv
    from colorization.inference.colorizer import DEFAULT_MODEL

    if not os.path.isdir(FLAGS.model_dir):
        raise cli.CommandError(f"--model_dir={FLAGS.model_dir!r} is not a directory.")
    output_dir = FLAGS.output_dir or DEFAULT_MODEL
    try:
        path, size = ship(
            FLAGS.model_dir,
            output_dir,
            FLAGS.image_size,
            FLAGS.temperature,
            FLAGS.chosen_on,
            FLAGS.data_root,
        )
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    import keras

    start = time.perf_counter()
    keras.saving.load_model(path, compile=False)
    print(
        f"Wrote {output_dir}: {path} is {size / 1e6:.2f} MB, loads in "
        f"{time.perf_counter() - start:.2f} s"
    )
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
