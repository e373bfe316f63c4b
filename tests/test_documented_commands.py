"""Every shell command that README.md and docs/*.md show for a project command runs as
written, in a working folder with a tiny `data/` tree in the documented layout.

The commands are read from the ```bash blocks of the documents. Only sizes (steps, image
sizes, batch and photo counts) and locations are rewritten: the ImageNet MobileNetV2 start
becomes a generated TFLite classifier of the same layout (no network here), the shipped
colorizer is found in this checkout, and the one command that writes into the package
(`export.ship`) writes into the working folder instead. Commands that need what a test
cannot have are listed in SKIPPED with the reason, and a command that is neither run nor
listed fails the test, so a new document cannot add an untested command.

The commands form chains that share their runs (the screening runs, the semantic-prior study
and learning curve, the ablation, the release recipe, the hint stage, and the rest); each chain
runs in its own working folder, in the documents' order, so that the chains can run side by
side.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
from PIL import Image

from colorization.inference import Colorizer
from data_prep import file_sources
from tests.helpers import ROOT, photo, small_vocdevkit, write_vocdevkit

pytestmark = pytest.mark.slow

# In the order a reader meets them; later documents use runs that earlier ones made.
DOCUMENTS = (
    "README.md",
    "docs/training.md",
    "docs/experiments.md",
    "docs/model_card.md",
    "docs/deployment.md",
    "docs/performance.md",
)
PROJECT_COMMAND = re.compile(
    r"\bpython3? +(-m +(colorization|export|data_prep|benchmarks)\b|train_main\.py"
    r"|export/|colorization/)"
)
# (pattern in the command, why it is not run here)
SKIPPED = (
    (r"\bdocker\b", "needs a Docker engine and the tensorflow/serving image"),
    (r"serving_client\.py", "talks to a running TF Serving (tests/test_export.py covers it)"),
    (r"--strategy=mirrored|\[gpu\]", "the paper preset on GPUs"),
    (r"--config=smoke\|cpu", "a template listing the presets, not a command"),
    (r"-m pytest", "the test suite itself"),
    (r"-m colorization\.demo", "serves until stopped (tests/test_demo.py drives the page)"),
    (r"-m benchmarks\.run", "the whole benchmark suite, minutes on 2 cores"),
)
# (chain, pattern): every line of a document section or subsection whose heading matches the
# pattern belongs to that chain (these sections train their own reference runs).
SECTION_CHAINS = (("semantic", r"^(A per-pixel semantic prior|Does longer training pay)"),)
# (chain, pattern): any other command line (or variable definition) matching the pattern
# belongs to that chain, the first match winning; every other line belongs to the "main"
# chain. A chain holds every command that reads what another of its commands writes.
CHAINS = (
    ("screening", r"benchmarks\.screen|runs/screen/|^(SCREEN|BALANCED|SETS)="),
    ("ablation", r"runs/(priors\.npz|abl_|cpu_scratch|cpu[245]\b)|^COMMON="),
    ("release", r"runs/(release|lambda08)\b|--mix_lambda=0\.5\b"),
    ("hints", r"runs/hints\b"),
)
CHAIN_NAMES = ("main", *(name for name, _ in SECTION_CHAINS + CHAINS))
# What each chain's commands are to make, in its working folder.
MADE = {
    "main": (
        "runs/smoke/model.keras",
        "runs/cpu/model.keras",
        "exported/saved_model/colorizer/1/saved_model.pb",
        "out/old_photo.png",
        "exported_cpu/tflite/colorizer_float16.tflite",
        "out.png",
    ),
    "ablation": (
        "runs/cpu_scratch/model.keras",
        "runs/abl_c/summary.json",
        "eval/ablation/metrics.json",
    ),
    "release": ("runs/lambda08/model.keras", "shipped/model.keras"),
    "screening": (
        "runs/screen/no_fusion/eval/metrics.json",
        "runs/screen/balance_hints/eval/metrics.json",
        "runs/screen/ship_rule/metrics.json",
        "runs/screen/ship_hints/metrics.json",
        "runs/screen/eval_long4k/metrics.json",
        "shipped/model.keras",
    ),
    "semantic": (
        "runs/screen/sem_features/eval/metrics.json",
        "runs/screen/eval_semantic_seed0/metrics.json",
        "docs/learning_curve.svg",
    ),
    "hints": ("runs/hints/model.keras", "shipped/model.keras"),
}
# Appended to every training command (absl keeps the last value of a flag).
TRAIN_SIZES = (
    "--steps=2 --warmup_steps=0 --checkpoint_every=2 --eval_every=2 --eval_examples=4 "
    "--batch_size=2 --image_size=64"
)
SIZE_FLAGS = {
    "image_size": "64",
    "steps": "2",
    "warmup_steps": "0",
    "eval_every": "2",
    "eval_examples": "4",
    "batch_size": "2",
    "max_examples": "6",
    "calibration_images": "4",
    "repeats": "1",
    "images": "4",
    "bootstrap": "20",
}


def shell_blocks(path):
    """The ```bash blocks of a Markdown file, each as (the heading of its section or
    subsection, its logical lines with backslash continuations joined)."""
    blocks, current, fenced, heading = [], None, False, ""
    for line in (ROOT / path).read_text().splitlines():
        if not fenced and line.startswith(("## ", "### ")):
            heading = line.lstrip("#").strip()
        if line.startswith("```"):
            if fenced:
                if current is not None:
                    blocks.append((heading, current))
                current, fenced = None, False
            else:
                fenced = True
                current = [] if line.strip() in ("```bash", "```sh", "```shell") else None
            continue
        if fenced and current is not None:
            if current and current[-1].endswith("\\"):
                current[-1] = current[-1][:-1].rstrip() + " " + line.strip()
            else:
                current.append(line.strip())
    return [
        (heading, [line for line in block if line and not line.startswith("#")])
        for heading, block in blocks
    ]


def skip_reason(line):
    for pattern, reason in SKIPPED:
        if re.search(pattern, line):
            return reason
    return None


def rewrite(line, tflite):
    """The documented line at test sizes and locations."""
    line = line.split(" # ")[0].strip()
    line = re.sub(r"\[(--[^\]]+)\]", r"\1", line)  # optional flags shown in brackets
    # Set-up steps (a venv, pip installs): the test runs in the environment the suite
    # itself was installed in.
    steps = [part.strip() for part in line.split("&&")]
    setup = re.compile(r"^(python3? -m venv |\. \.venv/bin/activate$|pip install )")
    line = " && ".join(part for part in steps if not setup.match(part))
    for flag, value in SIZE_FLAGS.items():
        line = re.sub(rf"--{flag}=[0-9.]+", f"--{flag}={value}", line)
    line = line.replace("mobilenet_v2:mobilenet_v2_1.0_224_quant.tflite", f"mobilenet_v2:{tflite}")
    line = re.sub(
        r"(?<![\w/])colorization/pretrained\b", str(ROOT / "colorization/pretrained"), line
    )
    line = re.sub(
        r"\bpython3? +train_main\.py",
        f"{shlex.quote(sys.executable)} {ROOT / 'train_main.py'}",
        line,
    )
    line = re.sub(r"\bpython3? +-m ", f"{shlex.quote(sys.executable)} -m ", line)
    line = re.sub(
        r"\bpython3? +colorization/", f"{shlex.quote(sys.executable)} {ROOT}/colorization/", line
    )
    if "train_main.py" in line and "--helpfull" not in line:
        if "--config=cpu " in line + " " and "--init_from" not in line:
            line += f" --init_from=mobilenet_v2:{tflite}"
        line += " " + TRAIN_SIZES
        if "--model_dir=runs/curve" in line:
            line += " --checkpoint_every=1"  # the learning curve scores two checkpoints
    if "-m data_prep.priors" in line:
        line += " --max_images=8"
    if "-m colorization.evaluate" in line:
        line += " --max_examples=2 --bootstrap=20 --report_images=1"
    if "-m benchmarks.screen" in line:
        line += (
            " --steps=2 --warmup_steps=0 --checkpoint_every=2 --batch_size=2 --per_set=1"
            " --train_image_size=64 --image_size=64 --bootstrap=20 --eval_examples=4"
        )
    if "-m benchmarks.learning_curve" in line:
        # The two checkpoints the chain's 2-step training keeps.
        line += " --steps=1,2 --per_set=1 --image_size=64 --bootstrap=20"
    if "-m export.ship" in line:
        line += " --output_dir=shipped"
    if "-m export " in line + " " and "--tflite_variants" not in line:
        # One TFLite variant, the one the documents go on to use, is enough to show the
        # command works (tests/test_export.py checks every variant).
        line += " --tflite_variants=float16"
    return line


# Runs the command lines in one fresh interpreter that imports what the commands share once,
# then runs each command (`python -m MODULE ...` or `python SCRIPT ...`) as __main__ in a
# forked child, with the shell's variable assignments (NAME="...") expanded: a command costs
# its own work, not another TensorFlow import. Prints one JSON line per command.
_DRIVER = r"""
import json, os, re, runpy, shlex, sys, time
import keras, tensorflow
from absl import app, flags
variables = {}
for line in json.load(open(sys.argv[1])):
    assignment = re.match(r"^([A-Z_]+)=(.*)$", line)
    if assignment:
        variables[assignment[1]] = shlex.split(assignment[2])[0]
        continue
    written = re.match(r"^echo ('[^']*') > (\S+)$", line)
    if written:
        with open(written[2], "w") as f:
            f.write(shlex.split(written[1])[0] + "\n")
        continue
    line = re.sub(r"\$([A-Z_]+)", lambda m: variables[m[1]], line)
    argv = shlex.split(line)[1:]
    read, write = os.pipe()
    start = time.time()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        os.dup2(write, 2)
        sys.stdout = sys.stderr = os.fdopen(1, "w", buffering=1)
        status = 70
        try:
            if argv[0] == "-m":
                sys.argv = [argv[1], *argv[2:]]
                runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            else:
                sys.argv = argv
                sys.path.insert(0, os.path.dirname(argv[0]))
                runpy.run_path(argv[0], run_name="__main__")
            status = 0
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        output = pipe.read()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    # absl prints --help and exits with 1.
    if code == 1 and re.search(r"--help(full|short)?\b", line) and "--model_dir" in output:
        code = 0
    report = {"line": line, "code": code, "seconds": time.time() - start}
    print(json.dumps({**report, "output": output[-3000:]}), flush=True)
"""


def _named_photos(folder, count, start=0):
    """`count` photos in `folder`, at least two of them in the folder's val split."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"p{start}_{i:03d}.jpg" for i in range(400)]
    val = [n for n in names if file_sources.folder_split_of(n) == "val"][:2]
    train = [n for n in names if file_sources.folder_split_of(n) == "train"][: count - 2]
    for i, name in enumerate(val + train):
        Image.fromarray(photo(start + i, 48, 64)).save(folder / name, quality=95)


def documented_data(root):
    """data/ as README.md describes it: two VOCdevkits and photos/<source>/<class>/."""
    data = root / "data"
    small_vocdevkit(data / "voc2012_animals", count=8)
    street = {
        f"street_{i:03d}": (photo(300 + i, 48, 64), [(("car", "person")[i % 2], (2, 2, 60, 44))])
        for i in range(6)
    }
    ids = list(street)
    write_vocdevkit(
        data / "voc_street", street, {"train": ids[:4], "val": ids[4:], "trainval": ids}
    )
    for index, folder in enumerate(
        ("imagenette/english_springer", "human_seg/flat", "flowers/rose")
    ):
        _named_photos(data / "photos" / folder, 5, start=50 * index)
    # The other sources of photos/, two val photos and one train photo each.
    for index, folder in enumerate(
        (
            "clothing/shirt",
            "coco/misc",
            "food101/pizza",
            "grocery/fruit",
            "intel_scenes/street",
            "pacs/dog",
            "rooms/kitchen",
            "street_people/crossing",
        )
    ):
        _named_photos(data / "photos" / folder, 3, start=200 + 10 * index)
    # The photos the colorize and TFLite commands are shown on.
    Image.fromarray(photo(900, 40, 56)).save(root / "old_photo.jpg")
    Image.fromarray(photo(901, 40, 56)).save(root / "photo.jpg")
    (root / "album").mkdir()
    for i in range(2):
        Image.fromarray(photo(910 + i, 36, 52)).save(root / "album" / f"a{i}.png")


def documented_lines():
    """[(document, section heading, line)] of every line that runs a project command, with
    the variable definitions (NAME="...") that a block's later lines use."""
    found = []
    for document in DOCUMENTS:
        for heading, block in shell_blocks(document):
            for line in block:
                if PROJECT_COMMAND.search(line) or re.match(r"^([A-Z_]+=|echo '.*' > )", line):
                    found.append((document, heading, line))
    return found


def chain_of(line, heading):
    for name, pattern in SECTION_CHAINS:
        if re.search(pattern, heading):
            return name
    for name, pattern in CHAINS:
        if re.search(pattern, line):
            return name
    return "main"


def test_the_documents_show_the_commands_this_test_knows():
    found = documented_lines()
    lines = [line for _, _, line in found]
    assert any("train_main.py --config=cpu --data_root=data" in line for line in lines)
    assert any("-m colorization.evaluate" in line for line in lines)
    assert any("-m export " in line + " " for line in lines)
    # The parser sees continuation lines as one command.
    joined = [line for line in lines if line.startswith("COMMON=")]
    assert joined and "--seed=0" in joined[0]
    # Every chain has commands, and a run a line reads (a --model, --init_from, --priors or
    # name=path value under runs/) is written by an earlier line of the same chain.
    chains = {}
    for _, heading, line in found:
        chains.setdefault(chain_of(line, heading), []).append(line)
    assert set(chains) == set(CHAIN_NAMES)
    for name, chain in chains.items():
        written = set()
        for line in chain:
            made = _runs_written(line)
            missing = {
                run_of(path)
                for path in re.findall(r"[=,](runs/[\w./]+)", line)
                if run_of(path) not in written | made
            }
            assert not missing, (name, line, missing)
            written |= made


def run_of(path):
    """runs/NAME (runs/screen/NAME for a screening run) of a path under runs/."""
    parts = path.split("/")
    return "/".join(parts[: 3 if parts[1] == "screen" and len(parts) > 2 else 2])


def _runs_written(line):
    """The runs a command line writes: its --model_dir, --output or --output_dir, and a
    screening call's RUNS/NAME and RUNS/priors.npz."""
    written = {run_of(p) for p in re.findall(r"--(?:model_dir|output|output_dir)=(runs/\S+)", line)}
    if "benchmarks.screen" in line:
        # Each variant's run, and the colour priors every variant shares.
        written |= {f"runs/screen/{n}" for n in re.findall(r"--name=(\w+)", line)}
        written.add("runs/screen/priors.npz")
    return written


@pytest.fixture(scope="session")
def deeplab_tflite(tmp_path_factory):
    from tests import helpers

    return helpers.shared_deeplab_tflite(tmp_path_factory)[0]


@pytest.mark.parametrize("chain", CHAIN_NAMES)
def test_documented_commands_run_as_written(chain, tmp_path, mobilenet_tflite, deeplab_tflite):
    tflite, _ = mobilenet_tflite
    documented_data(tmp_path)
    if chain == "semantic":
        # The semantic prior's DeepLabV3 file, where the documents name it: a stand-in.
        shutil.copy(deeplab_tflite, tmp_path / "deeplabv3_257_mv_gpu.tflite")
    # Every evaluation of the chain keeps its coloured photos in one cache, as a reader
    # who sets COLORIZATION_SCORE_CACHE would: a model scored again is read back.
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(ROOT),
        COLORIZATION_SCORE_CACHE=str(tmp_path / "score_cache"),
    )
    # One working folder, as on a reader's machine; a command shown twice (the same export
    # in README.md and docs/deployment.md) runs once, in the documents' order.
    skipped, lines = [], []
    for document, heading, line in documented_lines():
        reason = skip_reason(line)
        if reason:
            skipped.append((document, line, reason))
            continue
        if chain_of(line, heading) != chain:
            continue
        line = rewrite(line, tflite)
        if re.match(r"^([A-Z_]+=|echo )", line) or line not in lines:
            lines.append(line)
    (tmp_path / "commands.json").write_text(json.dumps(lines))
    result = subprocess.run(
        [sys.executable, "-c", _DRIVER, "commands.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    reports = [json.loads(out) for out in result.stdout.splitlines() if out.startswith("{")]
    ran = [report["line"] for report in reports]
    failures = [
        f"{report['line']}\nexit {report['code']}:\n{report['output']}"
        for report in reports
        if report["code"] != 0
    ]
    commands = [line for line in lines if not re.match(r"^([A-Z_]+=|echo )", line)]
    if result.returncode != 0 or len(ran) != len(commands):
        failures.append(f"the driver stopped ({result.returncode}):\n{result.stderr[-3000:]}")
    print(f"ran {len(ran)} command lines; skipped {len(skipped)}:")
    for report in sorted(reports, key=lambda r: -r["seconds"])[:8]:
        print(f"  {report['seconds']:6.1f} s  {report['line'][:110]}")
    for document, line, reason in skipped:
        print(f"  {document}: {line[:70]} -- {reason}")
    assert not failures, "\n\n".join(failures)
    # What the commands were to make is there.
    for made in MADE[chain]:
        assert (tmp_path / made).exists(), made
    assert len(skipped) >= 5 and len(ran) >= 3
    if chain != "main":
        return
    # README's export of the shipped colorizer needs no checkpoint, and its SavedModel and
    # float16 TFLite graph colour a photo as the shipped Keras model does.
    chelsea = skimage.data.chelsea()
    expected = Colorizer().colorize(chelsea).astype(np.float64)
    exported = tmp_path / "exported"
    for path in (
        exported / "saved_model/colorizer/1",
        exported / "tflite/colorizer_float16.tflite",
    ):
        got = Colorizer(str(path)).colorize(chelsea).astype(np.float64)
        psnr = 10 * np.log10(255.0**2 / max(((got - expected) ** 2).mean(), 1e-10))
        assert psnr > 40.0, (path, psnr)
