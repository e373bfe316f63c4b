"""The code's layers: imports go one way, from the colour maths up to the command lines, and
every command answers --help. The README's "Layout" section shows the same table."""

import ast
import concurrent.futures
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("colorization", "data_prep", "export", "benchmarks")

# Lowest first. A module may import its own layer and the ones below, never one above.
LAYERS = [
    (
        "foundations",
        ["colorization", "colorization.config", "colorization.cli", "colorization.hardware"],
    ),
    (
        "colour maths and bins",
        ["colorization.color", "colorization.bins", "colorization.tflite_colorize"],
    ),
    (
        "data",
        ["data_prep", "data_prep.sources", "data_prep.pipeline", "data_prep.priors"]
        + ["data_prep.build_tfds"],
    ),
    (
        "model, losses, optimizer",
        ["colorization.backbones", "colorization.model", "colorization.losses"]
        + ["colorization.optimizer", "colorization.imagenet_weights"],
    ),
    ("model files", ["colorization.model_files"]),
    (
        "decoding and metrics",
        ["colorization.inference", "colorization.metrics", "colorization.photo_eval"],
    ),
    (
        "training and evaluation",
        ["colorization.evaluation", "colorization.callbacks", "colorization.distribute"]
        + ["colorization.training"],
    ),
    (
        "command lines",
        ["train_main", "colorization.colorize", "colorization.evaluate", "colorization.demo"],
    ),
    (
        "export",
        ["export", "export.saved_model", "export.tflite", "export.__main__", "export.ship"]
        + ["export.serving_client"],
    ),
    ("benchmarks", ["benchmarks", "benchmarks.*"]),
]


def _modules():
    """{module name: file} of every module of the project."""
    found = {"train_main": os.path.join(ROOT, "train_main.py")}
    for package in PACKAGES:
        for name in sorted(os.listdir(os.path.join(ROOT, package))):
            if name.endswith(".py"):
                module = package if name == "__init__.py" else f"{package}.{name[:-3]}"
                found[module] = os.path.join(ROOT, package, name)
    return found


def _layer_of(module):
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member or (
                member.endswith(".*") and module.startswith(member[:-1]) and module != member[:-2]
            ):
                return index
    return None


def _project_imports(path, modules):
    """Project modules imported anywhere in the file (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from colorization import color` imports the module colorization.color.
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                for a in node.names
            ]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def test_every_module_has_a_layer():
    unplaced = [m for m in _modules() if _layer_of(m) is None]
    assert not unplaced, f"give these modules a layer in LAYERS (and the README): {unplaced}"


def test_imports_never_go_up_a_layer():
    modules = _modules()
    upward = []
    for module, path in modules.items():
        own = _layer_of(module)
        for target in _project_imports(path, modules):
            if _layer_of(target) > own:
                upward.append(
                    f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[_layer_of(target)][0]})"
                )
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _project_imports(p, modules) - {m} for m, p in modules.items()}
    # Package __init__ files are imported by their submodules implicitly; only the
    # explicit edges count.
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_check_catches_an_upward_import_and_a_cycle(tmp_path):
    # The reference for the two checks above: a made-up graph with one of each.
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from colorization import training\n")
    assert _project_imports(str(path), {"colorization.training"}) == {"colorization.training"}
    assert _layer_of("colorization.training") > _layer_of("colorization.inference")
    assert _layer_of("benchmarks.run") == len(LAYERS) - 1 and _layer_of("benchmarks") is not None


def _entry_points():
    """Every module that runs as a command: `python -m NAME` (train_main: the script)."""
    commands = []
    for module, path in _modules().items():
        if 'if __name__ == "__main__":' in open(path).read():
            commands.append(module[: -len(".__main__")] if module.endswith(".__main__") else module)
    return sorted(commands)


def _help(module):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    return subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_every_command_answers_help():
    commands = _entry_points()
    assert {"train_main", "colorization.colorize", "export", "benchmarks.run"} <= set(commands)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = dict(zip(commands, pool.map(_help, commands), strict=True))
    failed = []
    for module, result in results.items():
        text = result.stdout + result.stderr
        # absl prints the usage and exits with 1 after --help; argparse exits with 0.
        if result.returncode not in (0, 1) or "Traceback" in text or "--" not in text:
            failed.append(f"{module}: exit {result.returncode}\n{text[-800:]}")
    assert not failed, "\n\n".join(failed)
