"""The code's layers, read from the folder tree: imports go one way, from the colour maths
up to the command lines, and every command answers --help."""

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP_LEVEL = ("colorization", "data_prep", "export", "benchmarks", "train_main.py")

# Packages, lowest first. A module belongs to the longest package in this list that holds
# it; it may import its own package and the ones before it, never one after. The modules at
# the root of colorization/ are its commands.
LAYERS = [
    "colorization.core",
    "data_prep",
    "colorization.model",
    "colorization.inference",
    "colorization.archive",
    "colorization.evaluation",
    "colorization.training",
    "colorization",
    "train_main",
    "export",
    "benchmarks",
]


def _modules():
    """{module name: file} of every module of the project, found by walking the folders."""
    found = {}
    for top in TOP_LEVEL:
        if top.endswith(".py"):
            found[top[:-3]] = os.path.join(ROOT, top)
            continue
        for directory, folders, files in os.walk(os.path.join(ROOT, top)):
            folders[:] = [f for f in folders if not f.startswith((".", "__"))]
            package = os.path.relpath(directory, ROOT).replace(os.sep, ".")
            for name in sorted(files):
                if name.endswith(".py"):
                    module = package if name == "__init__.py" else f"{package}.{name[:-3]}"
                    found[module] = os.path.join(directory, name)
    return found


def layer_of(module, layers=LAYERS):
    """Index in `layers` of the longest package that is `module` or holds it; None if none."""
    best = None
    for index, package in enumerate(layers):
        if module == package or module.startswith(package + "."):
            if best is None or len(package) > len(layers[best]):
                best = index
    return best


def _project_imports(path, modules):
    """Project modules imported anywhere in the file (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from colorization.core import color` imports the module colorization.core.color.
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                for a in node.names
            ]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def upward_imports(graph, layers=LAYERS):
    """["a imports b" ...] for every edge of {module: imported modules} that goes up."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer_of(target, layers) > layer_of(module, layers):
                found.append(f"{module} ({layers[layer_of(module, layers)]}) imports {target}")
    return found


def import_cycles(graph):
    """Every cycle a depth-first walk of {module: imported modules} meets, as "a -> b -> a"."""
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def _graph():
    modules = _modules()
    return {m: _project_imports(p, modules) - {m} for m, p in modules.items()}


def test_every_module_has_a_layer():
    unplaced = [m for m in _modules() if layer_of(m) is None]
    assert not unplaced, f"these modules lie outside every package of LAYERS: {unplaced}"


def test_the_layers_are_the_folders():
    # Every subpackage of colorization/ is a layer, and every layer is a folder or module.
    packages = sorted(
        f"colorization.{name}"
        for name in os.listdir(os.path.join(ROOT, "colorization"))
        if os.path.isfile(os.path.join(ROOT, "colorization", name, "__init__.py"))
    )
    assert packages == sorted(p for p in LAYERS if p.startswith("colorization."))
    modules = _modules()
    assert all(p in modules for p in LAYERS)


def test_imports_never_go_up_a_layer():
    upward = upward_imports(_graph())
    assert not upward, "\n".join(upward)


def test_nothing_that_installs_imports_the_tests():
    # tests/ is not installed with the package: a command that imports it works in a
    # checkout and fails after `pip install`.
    found = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(open(path).read())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            found += [f"{module} imports {n}" for n in names if n.split(".")[0] == "tests"]
    assert not found, found


def test_no_import_cycles():
    # Package __init__ files are imported by their submodules implicitly; only the
    # explicit edges count.
    cycles = import_cycles(_graph())
    assert not cycles, "\n".join(cycles)


def test_data_prep_depends_only_on_the_core():
    outside = {
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module.startswith("data_prep")
        for target in targets
        if not target.startswith(("data_prep", "colorization.core"))
    }
    assert not outside, sorted(outside)


def test_the_checks_catch_a_planted_cycle_and_an_upward_import(tmp_path):
    # A made-up project: the core imports the model inside a function (upward), and two
    # model modules import each other (a cycle).
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from colorization.model import network\n")
    known = {"colorization.model", "colorization.model.network"}
    assert _project_imports(str(path), known) == {"colorization.model.network"}
    graph = {
        "colorization.core.color": {"colorization.model.network"},
        "colorization.model.network": {"colorization.model.losses", "colorization.core.bins"},
        "colorization.model.losses": {"colorization.model.network"},
        "colorization.core.bins": set(),
        "export.tflite": {"colorization.core.bins"},
    }
    assert upward_imports(graph) == [
        "colorization.core.color (colorization.core) imports colorization.model.network"
    ]
    assert import_cycles(graph) == [
        "colorization.model.network -> colorization.model.losses -> colorization.model.network"
    ]
    del graph["colorization.core.color"], graph["colorization.model.losses"]
    graph["colorization.model.network"].discard("colorization.model.losses")
    assert upward_imports(graph) == [] and import_cycles(graph) == []
    # The longest package wins: a command at the root of colorization/ sits above training.
    assert layer_of("colorization.evaluate") > layer_of("colorization.training.trainer")
    assert layer_of("colorization.core.bins") < layer_of("data_prep.pipeline")
    assert layer_of("benchmarks.run") == len(LAYERS) - 1 and layer_of("tests.x") is None


def _entry_points():
    """Every module that runs as a command: `python -m NAME` (train_main: the script)."""
    commands = []
    for module, path in _modules().items():
        if 'if __name__ == "__main__":' in open(path).read():
            commands.append(module[: -len(".__main__")] if module.endswith(".__main__") else module)
    return sorted(commands)


# Runs in a fresh interpreter: imports what most commands import once, then runs each
# command's `--help` in a forked child, which shares those imports. (Forking the test
# process itself is not safe: TensorFlow's thread pools may be running there.)
_HELP_DRIVER = """
import json, os, runpy, sys
import keras, tensorflow
from absl import app, flags
modules, folder = sys.argv[1].split(","), sys.argv[2]
codes = {}
for module in modules:
    output = os.path.join(folder, module + ".txt")
    pid = os.fork()
    if pid == 0:
        status = 70
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = sys.stderr = os.fdopen(1, "w", buffering=1)
            sys.argv = [module, "--help"]
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(status)
    codes[module] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(codes))
"""


def test_every_command_answers_help(tmp_path):
    import json
    import subprocess

    commands = _entry_points()
    assert {"train_main", "colorization.colorize", "export", "benchmarks.run"} <= set(commands)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", _HELP_DRIVER, ",".join(commands), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    codes = json.loads(result.stdout.strip().splitlines()[-1])
    failed = []
    for module in commands:
        text = (tmp_path / f"{module}.txt").read_text()
        # absl prints the usage and exits with 1 after --help; argparse exits with 0.
        if codes[module] not in (0, 1) or "Traceback" in text or "--" not in text:
            failed.append(f"{module}: exit {codes[module]}\n{text[-800:]}")
    assert not failed, "\n\n".join(failed)
