"""The one convention of every command line (`python -m ...`, `python train_main.py`).

- Flags are defined in the command's own `define_flags()`, called by `run()` just before
  absl parses the command line, so importing a command's module defines nothing: commands
  and tests can import each other's functions without `DuplicateFlagError`.
- A bad flag value fails in absl's parser or a flag validator, before any work starts
  (absl prints the usage line and exits with status 1).
- A problem found later in the user's input (a missing file, an unreadable data set) is
  raised as `CommandError` (or one of `user_errors`) and printed as one line
  `error: ...` on stderr, exit status 2; a traceback means a bug.
- Long work prints progress lines on stdout.
"""

import sys

from absl import app

from colorization.core.config import DEFAULT_DATA_ROOT


def define_model_flag():
    """--model, as every command that colours photos takes it."""
    from absl import flags

    flags.DEFINE_string(
        "model",
        None,
        "Model: .keras, model_dir (or a checkpoint prefix in it), SavedModel dir or .tflite; "
        "default: the colorizer shipped with the package.",
    )


def define_temperature_flag(default, help_text):
    """--temperature, the annealed-mean temperature, refused by the parser unless it is > 0
    (or left unset where the default is None)."""
    from absl import flags

    flags.DEFINE_float("temperature", default, help_text)
    flags.register_validator(
        "temperature",
        lambda t: t is None or t > 0,
        "--temperature must be > 0 (the annealed mean divides the logits by it)",
    )


def run_command(module, user_errors=()):
    """Runs a command whose code lives in `module` (its `define_flags` and `main`) from a thin
    entry module (`python -m colorization.demo`): the usage text and the key flags shown by
    --help are the command module's, as if it had been run itself."""
    from absl import flags

    sys.modules["__main__"].__doc__ = module.__doc__
    module.define_flags()
    # absl's --helpshort lists the key flags of the program's file (sys.argv[0]).
    for flag in flags.FLAGS.get_key_flags_for_module(module):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    run(module.main, None, user_errors)


def define_data_root_flag():
    """--data_root, as every command that reads data sets takes it."""
    from absl import flags

    flags.DEFINE_string(
        "data_root",
        DEFAULT_DATA_ROOT,
        "Folder that relative voc_dir: and folder: paths are read under (absolute paths are "
        "read as they are).",
    )


class CommandError(Exception):
    """A problem with the user's input, reported as `error: MESSAGE` with exit status 2."""


def run(main, define_flags=None, user_errors=()):
    """Defines the command's flags, parses them and calls `main(argv)`.

    Args:
      main: the command, `main(argv) -> exit status (or None for 0)`.
      define_flags: the command's flag definitions, a function of no arguments.
      user_errors: further exception types that mean bad input rather than a bug
        (ValueError from a config, SourceError from a data set...); reported like
        CommandError.
    """
    if define_flags is not None:
        define_flags()
    errors = (CommandError, *user_errors)

    def guarded(argv):
        try:
            return main(argv)
        except errors as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    app.run(guarded)
