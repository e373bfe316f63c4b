"""train_main.py and colorization.training.trainer: flag validation, an end-to-end run, resume after
SIGKILL of a real process, multi-worker training on localhost, warm start, bfloat16."""

import dataclasses
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorization.core import config_flags
from colorization.core.config import ModelConfig, TrainConfig
from colorization.core.presets import PRESETS
from colorization.model import model_files
from colorization.model.network import build_model
from colorization.training import trainer as training
from data_prep import pipeline, source_types, sources
from tests.conftest import tiny_train_config
from tests.helpers import ROOT, run_command

pytestmark = pytest.mark.slow

TINY_FLAGS = [
    "--config=smoke",
    "--image_size=32",
    "--width_multiplier=0.125",
    "--fc_units=16,16,8",
    "--batch_size=4",
    "--learning_rate=1e-3",
]


def _train_main(*args, env=None, **kwargs):
    """train_main.py in a subprocess; on the smoke preset unless args name a --config."""
    if not any(a.startswith("--config=") for a in args):
        args = ("--config=smoke", *args)
    return run_command(["train_main.py", *args], env=env, **kwargs)


def _config_from(*args):
    """The TrainConfig train_main builds from these flags, parsed in-process."""
    from absl import flags

    flag_values = flags.FlagValues()
    config_flags.define_config_flags(flag_values)
    flag_values(["train_main.py", *args])
    return config_flags.config_from_flags(flag_values)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--image_size=30", "image_size=30"),
        ("--fc_units=1,2", "fc_units"),
        ("--learning_rate=-1", "learning_rate"),
        ("--eval_every=7", "eval_every=7"),
        ("--init_from=/no/such/file.keras", "/no/such/file.keras"),
        ("--warmup_steps=5000", "warmup_steps"),
        ("--class_branch=false --fusion=true", "use_fusion=True needs use_class_branch=True"),
    ],
)
def test_bad_flag_values_name_the_value(flag, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _config_from(*flag.split(), "--checkpoint_every=5").check_files()


def test_flags_follow_the_dataclasses_and_presets():
    # Defaults are the dataclass defaults; a preset replaces them; the command line wins.
    assert _config_from() == TrainConfig()
    assert _config_from("--config=cpu") == PRESETS["cpu"]
    cpu = _config_from("--config=cpu", "--steps=700", "--fc_units=8,8,4", "--priors=")
    assert cpu.steps == 700 and cpu.model.fc_units == (8, 8, 4) and cpu.priors_path == ""
    assert cpu.model.backbone == "mobilenet_v2" and cpu.learning_rate == 1e-3
    assert _config_from("--class_branch=false").model.use_fusion is False
    # Every configurable field has a flag with its docstring's description.
    helps = {**config_flags.field_help(ModelConfig), **config_flags.field_help(TrainConfig)}
    for _, cls, field in config_flags.flag_fields():
        assert helps.get(field.name), f"{cls.__name__}.{field.name} is not described"
    assert helps["beta_2"] == helps["beta_1"] and "Adam" in helps["beta_1"]


def test_bad_flag_fails_fast_from_the_command_line(tmp_path):
    model_dir = tmp_path / "run"
    result = _train_main("--image_size=30", "--checkpoint_every=5", f"--model_dir={model_dir}")
    assert result.returncode == 2, result.stderr
    assert "error: image_size must be" in result.stderr and "Traceback" not in result.stderr
    assert not model_dir.exists()  # no work was started
    unknown = _train_main("--strategy=everywhere", f"--model_dir={model_dir}")
    assert unknown.returncode == 1 and "strategy" in unknown.stderr


def test_end_to_end_run_writes_model_dir(tiny_model_dir):
    for name in ("config.json", "priors.npz", "model.keras", "summary.json", "samples.png"):
        assert (tiny_model_dir / name).exists(), name
    assert glob.glob(str(tiny_model_dir / "logs" / "events.out.tfevents.*"))
    assert tf.train.latest_checkpoint(str(tiny_model_dir / "checkpoints")).endswith("ckpt-6")
    summary = json.loads((tiny_model_dir / "summary.json").read_text())
    assert summary["steps"] == 6
    # The final metrics in summary.json are the ones TensorBoard got at the last step.
    logged = {}
    for path in glob.glob(str(tiny_model_dir / "logs" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag.startswith("val_") and event.step == 6:
                    logged[value.tag] = float(tf.make_ndarray(value.tensor))
    for method in ("model", "grey"):
        for key in ("auc", "rebalanced_auc", "psnr"):
            expected = summary["val_metrics"][method][key]
            assert abs(logged[f"val_{method}/{key}"] - expected) < 1e-4, (method, key)
    # Grey's ab error is 0 against grey truth only; on coloured photos its AuC is below 100.
    assert summary["val_metrics"]["grey"]["auc"] < 100
    # The image grid is grey | prediction | truth for each evaluated image.
    grid = tf.io.decode_png(tf.io.read_file(str(tiny_model_dir / "samples.png"))).numpy()
    assert grid.shape[1] == 3 * 32 and grid.shape[0] % 32 == 0
    model, config = model_files.load_model_dir(str(tiny_model_dir))
    assert config.model.image_size == 32 and model.input_shape == (None, 32, 32, 1)


def test_tensorboard_has_losses_learning_rate_and_colour_metrics(tiny_model_dir):
    tags = set()
    for path in glob.glob(
        str(tiny_model_dir / "logs" / "**" / "events.out.tfevents.*"), recursive=True
    ):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {"learning_rate", "val_model/auc", "val_model/psnr", "val/grey_prediction_truth"} <= tags
    assert any("color_logits_loss" in t for t in tags) and any("class_accuracy" in t for t in tags)


def test_resumed_stream_continues_the_uninterrupted_one(generated_voc):
    source = sources.load_source(f"voc_dir:{generated_voc}", "train")
    config = pipeline.PipelineConfig(
        image_size=32, batch_size=2, deterministic=True, shuffle_buffer=4
    )
    full = [b[0]["L"].numpy() for b in pipeline.build_dataset(source, config).take(6)]
    resumed = [
        b[0]["L"].numpy() for b in pipeline.build_dataset(source, config, start_example=6).take(3)
    ]
    for a, b in zip(full[3:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_resume_skips_the_examples_seen_when_grey_photos_are_dropped_in_the_pipeline():
    """A source that was not audited for grey photos (TFDS) has them dropped inside the
    pipeline; a resume skips examples counted after that filter, so the crops (seeded by
    the running index) and the photos are the uninterrupted run's."""
    rng = np.random.default_rng(4)
    photos = [rng.integers(0, 255, (24, 28, 3), np.uint8) for _ in range(6)]
    photos[1] = np.repeat(photos[1][..., :1], 3, -1)  # grey
    encoded = [tf.io.encode_png(p).numpy() for p in photos]
    source = source_types.Source(
        name="six photos, one grey",
        dataset=tf.data.Dataset.from_tensor_slices(
            {
                "image_bytes": encoded,
                "label": np.arange(6, dtype=np.int32),
                "labels": np.zeros((6, 1), np.float32),
            }
        ),
        num_examples=6,
        has_labels=True,
        skipped={},
        audited=False,
    )
    config = pipeline.PipelineConfig(
        image_size=16, batch_size=1, deterministic=True, cache=False, shuffle_buffer=1
    )

    def stream(start, count):
        batches = pipeline.build_dataset(source, config, start_example=start).take(count)
        return [(int(t["class_logits"][0]), f["L"][0].numpy()) for f, t in batches]

    full = stream(0, 7)
    assert [label for label, _ in full][:5] == [0, 2, 3, 4, 5]  # the grey photo is dropped
    for (label, lightness), (label_resumed, resumed) in zip(full[3:], stream(3, 4), strict=True):
        assert label_resumed == label
        np.testing.assert_array_equal(resumed, lightness)


def test_resume_after_sigkill(generated_voc, tmp_path):
    model_dir = tmp_path / "run"
    flags = [
        f"--dataset=voc_dir:{generated_voc}",
        f"--model_dir={model_dir}",
        "--steps=60",
        "--checkpoint_every=5",
        "--eval_every=60",
        "--eval_examples=4",
        *TINY_FLAGS,
    ]
    process = subprocess.Popen(
        [sys.executable, "train_main.py", *flags],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint_dir = str(model_dir / "checkpoints")
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            latest = (
                tf.train.latest_checkpoint(checkpoint_dir)
                if os.path.isdir(checkpoint_dir)
                else None
            )
            if latest and int(latest.rsplit("-", 1)[1]) >= 10:
                break
            assert process.poll() is None, "training ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within 300 s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = int(tf.train.latest_checkpoint(checkpoint_dir).rsplit("-", 1)[1])
    assert 10 <= killed_at < 60 and not (model_dir / "summary.json").exists()

    # The same command again (a resume refuses other --steps: they change the schedule).
    finish = 60
    result = _train_main(*flags)
    assert result.returncode == 0, result.stderr[-2000:]
    resumed_at = json.loads((model_dir / "summary.json").read_text())["resumed_from_step"]
    assert resumed_at >= killed_at  # the last checkpoint, or one written while being killed
    assert f"starting at step {resumed_at}/" in result.stdout
    assert json.loads((model_dir / "summary.json").read_text())["steps"] == max(finish, resumed_at)
    # The optimizer state came back too: Adam's iteration count continued, not restarted.
    checkpoint = tf.train.load_checkpoint(tf.train.latest_checkpoint(checkpoint_dir))
    names = [n for n in checkpoint.get_variable_to_shape_map() if "iteration" in n]
    assert names and int(checkpoint.get_tensor(names[0])) == max(finish, resumed_at)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_warm_start_by_layer_name_with_a_different_head(tiny_model_dir, tmp_path):
    source_model = keras.saving.load_model(tiny_model_dir / "model.keras", compile=False)
    # Same trunk, a 7-class head: everything but the classifier loads.
    target = build_model(
        ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8), num_classes=7)
    )
    loaded, skipped = model_files.warm_start(target, str(tiny_model_dir / "model.keras"))
    assert "conv1_1" in loaded and "fc3" in loaded and "color_logits" in loaded
    assert set(skipped) == {"class_logits"} and "shape" in skipped["class_logits"]
    np.testing.assert_array_equal(
        target.get_layer("conv1_1").get_weights()[0],
        source_model.get_layer("conv1_1").get_weights()[0],
    )
    # A .weights.h5 holds no layer names: it loads onto the same architecture...
    weights_path = str(tmp_path / "tiny.weights.h5")
    source_model.save_weights(weights_path)
    same = build_model(ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8)))
    loaded, skipped = model_files.warm_start(same, weights_path)
    assert not skipped and len(loaded) == len([layer for layer in same.layers if layer.weights])
    for a, b in zip(same.get_weights(), source_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # ...and refuses, with a clear message, a model whose layout differs.
    plain = build_model(
        ModelConfig(image_size=32, width_multiplier=0.125, use_class_branch=False, use_fusion=False)
    )
    with pytest.raises(ValueError, match="holds no layer names"):
        model_files.warm_start(plain, weights_path)
    # Through the training flags: the run reports what it loaded.
    result = _train_main(
        "--dataset=skimage",
        f"--model_dir={tmp_path / 'warm'}",
        f"--init_from={tiny_model_dir / 'model.keras'}",
        "--steps=2",
        "--checkpoint_every=2",
        "--eval_every=2",
        "--eval_examples=2",
        "--num_classes=7",
        *TINY_FLAGS,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Warm start from" in result.stdout and "class_logits" in result.stdout


def test_mixed_bfloat16_trains_on_cpu(generated_voc, tmp_path):
    config = tiny_train_config(
        f"voc_dir:{generated_voc}",
        tmp_path / "bf16",
        model=ModelConfig(
            image_size=32,
            width_multiplier=0.125,
            fc_units=(16, 16, 8),
            dtype_policy="mixed_bfloat16",
        ),
        steps=3,
    )
    summary = training.train(config)
    assert summary["steps"] == 3
    assert all(np.isfinite(v) for v in summary["final_losses"].values())


def test_xla_training_step_matches_the_default_one(generated_voc, tmp_path):
    """--jit_compile=true compiles the whole train step with XLA (faster on CPU, see the
    README) and trains the same model: same data, same seed, same losses."""
    summaries = {}
    for jit in ("false", "true"):
        config = tiny_train_config(
            f"voc_dir:{generated_voc}",
            tmp_path / jit,
            steps=2,
            checkpoint_every=2,
            eval_every=2,
            jit_compile=jit,
        )
        summaries[jit] = training.train(config)
    for key, value in summaries["false"]["final_losses"].items():
        assert np.isclose(summaries["true"]["final_losses"][key], value, rtol=1e-3), key


@pytest.mark.parametrize(
    "flags_, message",
    [
        (
            ["--backbone=mobilenet_v2", "--init_from=mobilenet_v2:/no/such.tflite"],
            "/no/such.tflite",
        ),
        (["--backbone=mobilenet_v2", "--init_from=mobilenet_v2:model.keras"], "needs a .tflite"),
        (["--init_from=mobilenet_v2:x.tflite"], "needs backbone=mobilenet_v2"),
        (["--init_from=imagenet", "--width_multiplier=0.5"], "needs width_multiplier=1.0"),
        (["--backbone=mobilenet_v2", "--image_size=48"], "multiple of 32"),
        (["--freeze_backbone"], "freeze_backbone needs backbone=mobilenet_v2"),
    ],
)
def test_bad_pretrained_flags_fail_fast(flags_, message, tmp_path):
    model_dir = tmp_path / "run"
    result = _train_main(*flags_, f"--model_dir={model_dir}")
    assert result.returncode == 2, result.stderr[-1000:]
    assert message in result.stderr
    assert not model_dir.exists()


def test_not_a_tflite_file_fails_before_any_data_is_read(tmp_path, generated_voc):
    fake = tmp_path / "weights.tflite"
    fake.write_bytes(b"PK\x03\x04 a zip file, not a flatbuffer")
    result = _train_main(
        "--backbone=mobilenet_v2",
        f"--init_from=mobilenet_v2:{fake}",
        f"--dataset=voc_dir:{generated_voc}",
        f"--model_dir={tmp_path / 'run'}",
        "--image_size=64",
    )
    assert result.returncode == 2
    assert "not a TFLite flatbuffer" in result.stderr
    assert "usable images" not in result.stdout + result.stderr  # no data source was opened


def test_mobilenet_trunk_from_a_tflite_file_trains_frozen(
    generated_voc, mobilenet_tflite, tmp_path
):
    import shutil

    from colorization.model import imagenet_weights

    path = tmp_path / "imagenet.tflite"  # a copy: deleted below
    shutil.copy(mobilenet_tflite[0], path)
    model_config = ModelConfig(
        image_size=64,
        width_multiplier=0.125,
        fc_units=(16, 16, 8),
        backbone="mobilenet_v2",
        freeze_backbone=True,
    )
    run = tmp_path / "run"
    summary = training.train(
        tiny_train_config(
            f"voc_dir:{generated_voc}",
            run,
            model=model_config,
            init_from=f"mobilenet_v2:{path}",
            steps=4,
            checkpoint_every=2,
            eval_every=2,
        )
    )
    assert summary["steps"] == 4
    model, config = model_files.load_model_dir(str(run))
    assert config.model.backbone == "mobilenet_v2"
    convs = imagenet_weights.read_mobilenet_v2_tflite(str(path))["convs"]
    # Frozen: the trunk still holds the file's weights after training...
    np.testing.assert_array_equal(model.get_layer("Conv1").kernel.numpy(), convs[0][0])
    np.testing.assert_array_equal(model.get_layer("Conv_1").kernel.numpy(), convs[-1][0])
    # ...while the head trained (fc1 moved away from a fresh initialisation's statistics is
    # hard to assert; the optimizer built slots only for trainable weights).
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert "fc1" in trainable and "color_logits" in trainable and "Conv1" not in trainable
    # The model directory loads on a machine where the TFLite file is gone.
    os.remove(path)
    reloaded, _ = model_files.load_model_dir(str(run))
    assert reloaded.count_params() == model.count_params()


def _paper_tiny(**overrides):
    """The paper preset (mixed_float16) at a size that trains in seconds."""
    paper = PRESETS["paper"]
    model = dataclasses.replace(
        paper.model, image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8)
    )
    values = dict(model=model, init_from="", warmup_steps=0, steps=2, checkpoint_every=1)
    values.update(overrides)
    return dataclasses.replace(paper, **values)


def test_mixed_float16_scales_the_loss_so_small_gradients_survive():
    from colorization.training.optimizer import build_optimizer

    config = _paper_tiny()
    assert config.model.dtype_policy == "mixed_float16"
    optimizer = build_optimizer(config)
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(
        build_optimizer(
            _paper_tiny(model=dataclasses.replace(config.model, dtype_policy="mixed_bfloat16"))
        ),
        keras.optimizers.LossScaleOptimizer,
    )
    model = build_model(config.model)
    model.compile(optimizer=optimizer, loss={"color_logits": "mse"})
    assert model.optimizer is optimizer  # compile keeps the scaled optimizer, not a new one
    optimizer.build(model.trainable_variables)
    lightness = tf.random.uniform((2, 32, 32, 1), 0, 100, seed=1)
    # A loss so small that its float16 gradients flush to zero inside the network.
    tiny = 1e-5

    def gradients(scale):
        with tf.GradientTape() as tape:
            logits = model(lightness, training=True)["color_logits"]
            loss = tiny * tf.reduce_mean(tf.square(logits))
            scaled = optimizer.scale_loss(loss) if scale else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        factor = float(optimizer.dynamic_scale.numpy()) if scale else 1.0
        return [np.asarray(g, np.float64) / factor for g in grads if g is not None]

    def nonzero(grads):
        return sum(int(np.count_nonzero(g)) for g in grads)

    plain, scaled = gradients(False), gradients(True)
    # The float16 kernels of the trunk's first convolutions receive gradients that pass
    # through every float16 layer; unscaled they underflow, scaled they do not.
    first = [v.path for v in model.trainable_variables].index(
        next(v.path for v in model.trainable_variables if "kernel" in v.path)
    )
    assert nonzero(plain[first : first + 1]) == 0
    assert nonzero(scaled[first : first + 1]) > 0
    assert nonzero(scaled) > nonzero(plain)


def test_a_network_without_the_class_branch_trains(generated_voc, tmp_path):
    # The ablation (c): the data still carry class labels; the network has no class output.
    config = tiny_train_config(
        f"voc_dir:{generated_voc}",
        tmp_path / "no_branch",
        model=ModelConfig(
            image_size=32,
            width_multiplier=0.125,
            fc_units=(16, 16, 8),
            use_class_branch=False,
            use_fusion=False,
        ),
        steps=3,
    )
    summary = training.train(config)
    assert summary["steps"] == 3
    assert set(summary["final_losses"]) >= {"loss"} and not any(
        "class" in key for key in summary["final_losses"]
    )
    assert "class_logits" not in build_model(config.model).output


def _logged_steps(model_dir, tag):
    steps = set()
    for path in glob.glob(str(model_dir / "logs" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            if any(value.tag == tag for value in event.summary.value):
                steps.add(event.step)
    return sorted(steps)


def test_float16_skipped_updates_keep_the_schedule_and_a_finished_run_stays_finished(
    generated_voc, tmp_path, monkeypatch
):
    """A loss scale so large that every float16 gradient overflows: the LossScaleOptimizer
    skips every update (optimizer.iterations stays 0), yet checkpoints and evaluations come
    every 3 batches, the run ends after 6, and running it again trains nothing."""
    from colorization.training import optimizer as optimizer_module

    def overflowing(config):
        built = optimizer_module.build_optimizer(config)
        return keras.optimizers.LossScaleOptimizer(built.inner_optimizer, initial_scale=2.0**100)

    monkeypatch.setattr(training, "build_optimizer", overflowing)
    config = _paper_tiny(
        dataset=f"voc_dir:{generated_voc}",
        model_dir=str(tmp_path / "f16"),
        batch_size=2,
        steps=6,
        checkpoint_every=3,
        eval_every=3,
        eval_examples=2,
    )
    summary = training.train(config)
    assert summary["optimizer_updates"] == 0  # every update was skipped
    assert summary["steps"] == 6 and summary["resumed_from_step"] == 0
    checkpoints = tf.train.get_checkpoint_state(str(tmp_path / "f16" / "checkpoints"))
    numbers = sorted(int(p.rsplit("-", 1)[1]) for p in checkpoints.all_model_checkpoint_paths)
    assert numbers == [3, 6]
    assert _logged_steps(tmp_path / "f16", "val_model/auc") == [3, 6]
    # The loss scale is checkpointed with the optimizer, halved once per skipped update.
    latest = tf.train.latest_checkpoint(str(tmp_path / "f16" / "checkpoints"))
    scale = [n for n, _ in tf.train.list_variables(latest) if "dynamic_scale" in n]
    assert scale and tf.train.load_checkpoint(latest).get_tensor(scale[0]) == 2.0**94
    again = training.train(config)
    assert again["resumed_from_step"] == 6 and again["steps"] == 6
    assert again["final_losses"] == {}  # nothing trained


def test_two_replicas_log_and_apply_the_loss_of_the_global_batch(tmp_path):
    """The multi-worker loop under a 2-replica strategy (two logical CPUs, in a fresh process)
    against one process on the same global batch: the logged loss is the global batch's, and
    one SGD step moves the weights by the global batch's gradient (not 1/2 or 1/4 of it)."""
    script = r"""
import json, sys
import numpy as np, tensorflow as tf, keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from colorization.core.config import ModelConfig, TrainConfig
from colorization.model import losses
from colorization.model.network import build_model
from colorization.training.distribute import distributed_loop
config = TrainConfig(
    # Synchronized batch norm, as the trainer sets it for several replicas: the replicas'
    # batch statistics are then those of the global batch.
    model=ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8),
                      sync_batch_norm=True),
    batch_size=4, steps=1, checkpoint_every=1, eval_every=1,
)
rng = np.random.default_rng(0)
lightness = rng.uniform(0, 100, (4, 32, 32, 1)).astype(np.float32)
channels = losses.color_target_channels(1)
idx = rng.integers(0, 313, (4, 8, 8, 1)).astype(np.float32)
color = np.concatenate([idx, np.ones((4, 8, 8, 1), np.float32), rng.uniform(0.5, 2, (4, 8, 8, 1)).astype(np.float32)], -1)
assert color.shape[-1] == channels
targets = {"color_logits": color, "class_logits": np.array([[3], [1], [7], [0]], np.int32)}
data = tf.data.Dataset.from_tensors((lightness, targets))
loss, weights, _ = losses.build_losses(config.model, 1, 0.1)

def run(strategy):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = build_model(config.model)
        optimizer = keras.optimizers.SGD(learning_rate=1.0)
        optimizer.build(model.trainable_variables)
    before = [v.numpy() for v in model.trainable_variables]
    history = distributed_loop(model, optimizer, loss, weights, strategy, data, config, [])
    moved = [float(np.abs(v.numpy() - b).sum()) for v, b in zip(model.trainable_variables, before)]
    return history["loss"][0], moved

one = run(tf.distribute.get_strategy())
two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
keras.utils.set_random_seed(1)
reference = build_model(config.model)
outputs = reference(lightness, training=True)
expected = sum(weights[k] * float(fn(targets[k], outputs[k])) for k, fn in loss.items())
print(json.dumps({"one": one, "two": two, "expected": expected}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    (loss_one, moved_one), (loss_two, moved_two) = got["one"], got["two"]
    assert np.isclose(loss_one, got["expected"], rtol=1e-4)
    assert np.isclose(loss_two, got["expected"], rtol=1e-4)
    # Equal up to the rounding of synchronized batch norm; a gradient scaled by 1/2 or 1/4
    # would be far outside.
    np.testing.assert_allclose(moved_two, moved_one, rtol=2e-2, atol=1e-6)


def _multi_worker(generated_voc, model_dir, steps):
    """Two workers of one cluster on localhost train to `steps`; returns their outputs."""
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    flags = [
        f"--dataset=voc_dir:{generated_voc}",
        f"--model_dir={model_dir}",
        "--strategy=multi_worker",
        f"--steps={steps}",
        "--checkpoint_every=2",
        f"--eval_every={steps}",
        "--eval_examples=4",
        *TINY_FLAGS,
    ]
    processes = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "train_main.py", *flags],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    return outputs


def _weights(path):
    return keras.saving.load_model(path, compile=False).get_weights()


def test_a_restarted_multi_worker_run_resumes_on_every_worker(generated_voc, tmp_path):
    """Two workers train 4 steps (checkpoints at 2 and 4); the same run killed after its
    step-2 checkpoint (a copy without what came later) and restarted: both workers resume
    from the chief's checkpoint, at step 2, and end with the uninterrupted run's weights."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _multi_worker(generated_voc, whole, 4)
    ignore = shutil.ignore_patterns("model.keras", "summary.json", "ckpt-4*", "checkpoint")
    shutil.copytree(whole, parts, ignore=ignore)
    for folder in (parts / "checkpoints", parts / ".worker_1" / "checkpoints"):
        tf.compat.v1.train.update_checkpoint_state(str(folder), str(folder / "ckpt-2"))
    outputs = _multi_worker(generated_voc, parts, 4)
    assert all("starting at step 2/4" in output for output in outputs), outputs[1][-2000:]
    reference = _weights(whole / "model.keras")
    for path in (parts / "model.keras", parts / ".worker_1" / "model.keras"):
        for a, b in zip(_weights(path), reference, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    assert json.loads((parts / "summary.json").read_text())["steps"] == 4


def test_train_main_needs_a_preset_and_one_run_length(tmp_path):
    model_dir = tmp_path / "run"
    bare = run_command(["train_main.py", f"--model_dir={model_dir}"])
    assert bare.returncode == 1 and "--config is required" in bare.stderr
    both = _train_main("--epochs=2", "--steps=10", f"--model_dir={model_dir}")
    assert both.returncode == 1 and "--epochs=2 and --steps=10" in both.stderr
    assert "Traceback" not in bare.stderr + both.stderr and not model_dir.exists()


def test_a_worker_other_than_the_chief_reads_the_chief_s_priors(tmp_path, monkeypatch):
    """It never computes priors of its own (the source is never touched): it waits for the
    chief's file in model_dir, then weights the loss with exactly those."""
    import threading

    from colorization.core.config import TrainConfig
    from colorization.training import trainer
    from data_prep import priors

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the worker read the source ({name})")

    chief_dir, worker_dir = tmp_path / "run", tmp_path / "worker"
    chief_dir.mkdir()
    worker_dir.mkdir()
    config = TrainConfig(model_dir=str(chief_dir))
    chief_priors = priors.priors_from_counts(np.arange(313) % 7 + 1, metadata={"by": "chief"})
    monkeypatch.setattr(trainer, "CHIEF_PRIORS_POLL_S", 0.05)
    writer = threading.Timer(0.3, lambda: chief_priors.save(chief_dir / "priors.npz"))
    writer.start()
    got = trainer.load_or_compute_priors(config, Untouchable(), str(worker_dir), True, chief=False)
    writer.join()
    np.testing.assert_array_equal(got.weights, chief_priors.weights)
    assert got.metadata["by"] == "chief" and (worker_dir / "priors.npz").exists()
    monkeypatch.setattr(trainer, "CHIEF_PRIORS_TIMEOUT_S", 0.2)
    with pytest.raises(TimeoutError, match="the chief computes them"):
        trainer.load_or_compute_priors(
            TrainConfig(model_dir=str(tmp_path / "none")),
            Untouchable(),
            str(tmp_path / "w2"),
            False,
            chief=False,
        )


def test_batches_are_counted_and_a_run_ends_at_its_steps(generated_voc, tmp_path):
    """steps=5 with checkpoint_every=2: five batches, five updates, checkpoints after 2, 4
    and 5 batches; rolled back to ckpt-2 and resumed with checkpoint_every=3, the run saves
    after 5 and 6 batches of a steps=6 run and ends at 6."""
    from colorization.training import trainer

    model_dir = tmp_path / "counted"
    config = tiny_train_config(
        f"voc_dir:{generated_voc}", model_dir, steps=5, checkpoint_every=2, eval_every=2
    )
    summary = trainer.train(config)
    assert (summary["steps"], summary["optimizer_updates"]) == (5, 5)
    names = sorted(p.name for p in (model_dir / "checkpoints").glob("ckpt-*.index"))
    assert names == ["ckpt-2.index", "ckpt-4.index", "ckpt-5.index"]

    model_dir = tmp_path / "rolled_back"
    config = tiny_train_config(
        f"voc_dir:{generated_voc}", model_dir, steps=6, checkpoint_every=2, eval_every=2
    )
    trainer.train(config)
    checkpoints = str(model_dir / "checkpoints")
    tf.compat.v1.train.update_checkpoint_state(checkpoints, os.path.join(checkpoints, "ckpt-2"))
    resumed = dataclasses.replace(config, checkpoint_every=3, eval_every=3)
    summary = trainer.train(resumed)
    assert summary["resumed_from_step"] == 2
    assert (summary["steps"], summary["optimizer_updates"]) == (6, 6)
    assert tf.train.latest_checkpoint(checkpoints).endswith("ckpt-6")
    assert (model_dir / "checkpoints" / "ckpt-5.index").exists()


def test_a_resume_with_other_settings_is_refused_naming_them(generated_voc, tmp_path):
    from colorization.core.config import ResumeError
    from colorization.training import trainer

    model_dir = tmp_path / "run"
    config = tiny_train_config(
        f"voc_dir:{generated_voc}", model_dir, steps=4, checkpoint_every=2, eval_every=2
    )
    trainer.train(config)
    with pytest.raises(ResumeError, match=r"seed: 0 then, 3 now; steps: 4 then, 9 now"):
        trainer.train(
            dataclasses.replace(config, steps=9, seed=3, checkpoint_every=3, eval_every=3)
        )
    wider = dataclasses.replace(config.model, width_multiplier=0.25)
    with pytest.raises(ResumeError, match=r"model.width_multiplier: 0.125 then, 0.25 now"):
        trainer.train(dataclasses.replace(config, model=wider))
    # The recorded settings stay as they were.
    from colorization.model import model_files

    assert model_files.read_config(str(model_dir)).steps == 4
    # Where things are and how often the run saves may change.
    summary = trainer.train(
        dataclasses.replace(config, eval_examples=2, checkpoint_every=4, eval_every=4)
    )
    assert summary["steps"] == 4


def test_a_run_given_priors_records_the_lambda_they_were_made_at(tmp_path):
    """The loss uses the --priors file's weights, made at its own λ: config.json says that
    λ, not the flag's default."""
    from data_prep import priors

    counts = np.arange(1, 314, dtype=np.int64)
    path = tmp_path / "priors.npz"
    priors.priors_from_counts(counts, mix_lambda=0.8).save(str(path))
    config = tiny_train_config("voc_dir:x", tmp_path / "run", priors_path=str(path))
    assert config.mix_lambda == 0.5
    assert training.with_priors_lambda(config).mix_lambda == 0.8
    computed = tiny_train_config("voc_dir:x", tmp_path / "run")
    assert training.with_priors_lambda(computed) is computed
    # A run recorded with the flag's default beside a priors file resumes: the weights were
    # the file's either way. Without a file, lambda makes the weights and may not change.
    from colorization.core.config import resume_conflicts

    assert resume_conflicts(config, training.with_priors_lambda(config)) == []
    other = dataclasses.replace(computed, mix_lambda=0.8)
    assert resume_conflicts(computed, other) == [("mix_lambda", 0.5, 0.8)]


def test_the_training_step_is_traced_once_and_trains_as_before(
    generated_voc, tmp_path, monkeypatch
):
    """Without a strategy Keras creates the loss trackers' and metrics' variables inside the
    first trace of the training step, and tf.function traces a step that created variables
    a second time. The run creates them first: its colour loss is built into one graph, not
    two, and the trained weights are those of a run that leaves it to Keras."""
    from colorization.model import losses

    graph_calls = []
    call = losses.RebalancedColorLoss.call

    def counted(self, y_true, y_pred):
        if not tf.executing_eagerly():
            graph_calls.append(1)
        return call(self, y_true, y_pred)

    monkeypatch.setattr(losses.RebalancedColorLoss, "call", counted)
    dataset = f"voc_dir:{generated_voc}"
    training.train(
        tiny_train_config(dataset, tmp_path / "once", steps=2, checkpoint_every=2, eval_every=2)
    )
    assert len(graph_calls) == 1
    graph_calls.clear()
    monkeypatch.setattr(training, "build_compiled_state", lambda model, spec: None)
    training.train(
        tiny_train_config(dataset, tmp_path / "twice", steps=2, checkpoint_every=2, eval_every=2)
    )
    assert len(graph_calls) == 2
    for a, b in zip(
        _weights(tmp_path / "once" / "model.keras"),
        _weights(tmp_path / "twice" / "model.keras"),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
