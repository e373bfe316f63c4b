"""Training presets of train_main.py (--config=NAME): typed configs whose values become the
flags' defaults (a flag given on the command line wins). The benchmarks read the model sizes
from here too.

Data specs are relative: they are read under --data_root (default ./data), which holds
voc2012_animals/ and voc_street/ (VOCdevkit layout) and photos/ (folders of photos).
"""

import dataclasses

from colorization.core.config import IMAGENET_INIT, ModelConfig, TrainConfig

# The optimisation and bookkeeping shared by the two CPU presets.
_CPU_SCHEDULE = TrainConfig(
    batch_size=16,
    steps=4000,
    learning_rate=1e-3,
    warmup_steps=200,
    checkpoint_every=100,
    eval_every=500,
    eval_examples=0,
    cache=True,
)

# Training presets of train_main.py (--config=NAME): typed configs whose values become the
# flags' defaults (a flag given on the command line wins). The benchmarks read the model
# sizes from here too.
PRESETS = {
    # A tiny model on the photos bundled with scikit-image: proves the whole loop works.
    "smoke": TrainConfig(
        model=ModelConfig(image_size=64, width_multiplier=0.125, fc_units=(64, 64, 32)),
        dataset="skimage",
        model_dir="runs/smoke",
        batch_size=4,
        steps=20,
        learning_rate=1e-3,
        warmup_steps=0,
        checkpoint_every=10,
        eval_every=10,
        eval_examples=6,
    ),
    # The best colorizer a 2-core CPU trains in about an hour: a frozen ImageNet MobileNetV2
    # trunk and every photo under --data_root (docs/model_card.md has the measurements).
    # ImageNet weights come from keras.applications (a network is needed once); offline,
    # --init_from=mobilenet_v2:PATH.tflite reads them from a TFLite classifier.
    "cpu": dataclasses.replace(
        _CPU_SCHEDULE,
        model=ModelConfig(
            backbone="mobilenet_v2",
            freeze_backbone=True,
            image_size=160,
            width_multiplier=0.5,
            fc_units=(256, 128, 64),
        ),
        dataset=("voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos"),
        model_dir="runs/cpu",
        init_from=IMAGENET_INIT,
        class_loss_weight=0.1,
        # No XLA: its CPU depthwise convolutions made this network's step 4x slower
        # (26.8 against 111.6 img/s, benchmarks.train_step; docs/performance.md).
        jit_compile="auto",
    ),
    # The earlier from-scratch CPU recipe (the paper's trunk at width 0.25, one data set).
    "cpu_scratch": dataclasses.replace(
        _CPU_SCHEDULE,
        model=ModelConfig(image_size=96, width_multiplier=0.25, fc_units=(256, 128, 64)),
        dataset="voc_dir:voc2012_animals",
        model_dir="runs/cpu_scratch",
        class_loss_weight=0.05,
    ),
    # The paper's layout at full width, for GPUs.
    "paper": TrainConfig(
        model=ModelConfig(
            image_size=224,
            width_multiplier=1.0,
            fc_units=(1024, 512, 256),
            dtype_policy="mixed_float16",
        ),
        dataset="voc/2012",
        model_dir="runs/paper",
        batch_size=32,
        steps=100_000,
        learning_rate=3e-5,
        warmup_steps=1000,
        weight_decay=1e-3,
        class_loss_weight=0.003,
        # The paper starts its trunk from ImageNet VGG16 (keras.applications; a network is
        # needed once).
        init_from=IMAGENET_INIT,
        checkpoint_every=1000,
        eval_every=5000,
        eval_examples=512,
    ),
}
