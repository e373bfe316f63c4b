"""Command-line flags generated from the configuration dataclasses (train_main.py): one flag
per field, with its type, default, help text and choices taken from the dataclass."""

import dataclasses

from colorization.core.config import (
    BACKBONES,
    CLASS_LOSSES,
    DTYPE_POLICIES,
    ENCODINGS,
    FUSION_INPUTS,
    FUSION_MODES,
    JIT_CHOICES,
    SCHEDULES,
    SEMANTIC_INPUTS,
    STRATEGIES,
    TRAINABLE_CHOICES,
    ModelConfig,
    TrainConfig,
    check_fc_units,
)
from colorization.core.presets import PRESETS

# Flags whose name differs from their field; fields with no flag (set by the code).
FLAG_NAMES = {"use_class_branch": "class_branch", "use_fusion": "fusion", "priors_path": "priors"}
NO_FLAG = {"num_bins", "sync_batch_norm", "model"}
# The allowed values of the string fields that are enums.
CHOICES = {
    "class_loss": CLASS_LOSSES,
    "dtype_policy": DTYPE_POLICIES,
    "backbone": BACKBONES,
    "schedule": SCHEDULES,
    "strategy": STRATEGIES,
    "encoding": ENCODINGS,
    "jit_compile": JIT_CHOICES,
    "trainable": TRAINABLE_CHOICES,
    "fusion_mode": FUSION_MODES,
    "fusion_input": FUSION_INPUTS,
    "semantic_input": SEMANTIC_INPUTS,
}


def field_help(cls):
    """{field name: description} from the "Attributes:" section of `cls`'s docstring, the one
    place the fields are described (a line "a, b: text" describes both)."""
    found, names = {}, []
    in_attributes = False
    for line in (cls.__doc__ or "").splitlines():
        stripped = line.strip()
        if stripped == "Attributes:":
            in_attributes = True
            continue
        if not in_attributes or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        head, sep, text = stripped.partition(":")
        if indent <= 6 and sep and all(n.strip().isidentifier() for n in head.split(",")):
            names = [n.strip() for n in head.split(",")]
            for name in names:
                found[name] = text.strip()
        else:
            for name in names:
                found[name] += " " + stripped
    return found


def flag_fields():
    """[(flag name, dataclass, field)] for every configurable field, model fields first."""
    fields = []
    for cls in (ModelConfig, TrainConfig):
        for field in dataclasses.fields(cls):
            if field.name not in NO_FLAG:
                fields.append((FLAG_NAMES.get(field.name, field.name), cls, field))
    return fields


# Tuple fields, given as comma-separated lists.
LIST_FIELDS = ("fc_units", "class_names")


def parse_fc_units(text):
    """ "1024,512,256" (or a list of strings) -> (1024, 512, 256); ValueError otherwise."""
    return check_fc_units(text.split(",") if isinstance(text, str) else list(text))


def define_config_flags(flag_values=None):
    """Defines one absl flag per configurable field (type, default, help and choices from
    the dataclasses) plus --config (a preset)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    flags.DEFINE_enum(
        "config",
        None,
        list(PRESETS),
        "Preset whose values become the defaults.",
        flag_values=flag_values,
    )
    helps = {**field_help(ModelConfig), **field_help(TrainConfig)}
    for name, cls, field in flag_fields():
        default = field.default
        text = helps.get(field.name, field.name)
        kind = field.type.__name__ if isinstance(field.type, type) else str(field.type)
        if field.name in CHOICES:
            flags.DEFINE_enum(
                name, default, list(CHOICES[field.name]), text, flag_values=flag_values
            )
        elif field.name in LIST_FIELDS:
            flags.DEFINE_list(name, [str(u) for u in default], text, flag_values=flag_values)
        elif kind == "bool":
            flags.DEFINE_bool(name, default, text, flag_values=flag_values)
        elif kind == "int":
            flags.DEFINE_integer(name, default, text, flag_values=flag_values)
        elif kind == "float":
            flags.DEFINE_float(name, default, text, flag_values=flag_values)
        elif kind in ("str", "str | None"):
            flags.DEFINE_string(name, default, text, flag_values=flag_values)
        else:
            raise TypeError(f"no flag type for field {cls.__name__}.{field.name}: {field.type!r}")


def config_from_flags(flag_values=None):
    """The TrainConfig the flags describe: a flag given on the command line beats the
    --config preset, which beats the dataclass default. Raises ValueError naming the bad
    value (files are checked later, when the run starts)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    base = PRESETS[flag_values.config] if flag_values.config else TrainConfig()
    values = {ModelConfig: base.model.to_dict(), TrainConfig: base.to_dict()}
    del values[TrainConfig]["model"]
    for name, cls, field in flag_fields():
        if flag_values[name].present or not flag_values.config:
            value = flag_values[name].value
            if field.name == "fc_units":
                value = parse_fc_units(value)
            elif field.name in LIST_FIELDS:
                value = tuple(value)
            values[cls][field.name] = value
    model = values[ModelConfig]
    # --num_classes alone means the preset's class names no longer apply: the names follow
    # the new count (ModelConfig's default names).
    if flag_values["num_classes"].present and not flag_values["class_names"].present:
        model["class_names"] = ()
    # --no_class_branch alone means no fusion either (fusion needs the branch).
    if not model["use_class_branch"] and not flag_values["fusion"].present:
        model["use_fusion"] = False
    return TrainConfig(model=ModelConfig(**model), **values[TrainConfig])


def config_from_args(args):
    """The TrainConfig that train_main.py builds from the command-line flags `args` (a list
    such as ["--config=cpu", "--steps=100"]), parsed into flags of their own so that another
    command can train in-process. Raises ValueError naming an unknown flag or a bad value
    (files are checked later, when the run starts)."""
    from absl import flags

    flag_values = flags.FlagValues()
    define_config_flags(flag_values)
    try:
        flag_values(["train_main.py", *args])
    except flags.Error as e:
        raise ValueError(f"{' '.join(args)}: {e}") from None
    return config_from_flags(flag_values)
