"""What one evaluation run is: EvalConfig (validated when built) and the --model specs
(NAME=PATH[@RADIUS[/EPSILON]]) that name its models."""

import dataclasses
import os

from colorization.core import cli
from colorization.core.config import DEFAULT_DATA_ROOT, checked_temperature
from colorization.evaluation.metrics import GREY

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
      score_cache: full only: folder of coloured photos kept between runs
        (colorization.evaluation.score_cache); "" = none.
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
    score_cache: str = ""

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
        checked_temperature(self.temperature)
        for t in self.temperatures:
            checked_temperature(t, "temperatures")
        if self.score_cache and self.protocol != "full":
            raise ValueError(
                f"score_cache={self.score_cache!r} needs --protocol=full (crop protocol: '')."
            )
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
