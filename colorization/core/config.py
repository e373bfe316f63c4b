"""Frozen dataclass configurations, validated once when constructed.

Library code takes these objects (or plain arguments); only entry points read flags.
"""

import dataclasses
import os

DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# The annealed-mean temperature of Zhang et al. (colorization.core.bins re-exports it).
DEFAULT_TEMPERATURE = 0.38
# Channels of a colour-hint map: a, b and the mask (colorization.core.hints).
HINT_CHANNELS = 3
# Where relative voc_dir: and folder: paths of data specs are read (TrainConfig.data_root).
DEFAULT_DATA_ROOT = "data"
# The quantized ab bins of the output (colorization.core.bins holds their table).
NUM_BINS = 313
IMAGE_SIZE_RULE = "an integer >= 16 and a multiple of 8"
# MobileNetV2's deepest features are at S/32.
MOBILENET_SIZE_MULTIPLE = 32


def checked_temperature(temperature, name="temperature"):
    """`temperature` as a float (None stays None); ValueError naming `name` and the value
    unless it is > 0 (the annealed mean divides the logits by it). Every annealed-mean
    temperature a user gives passes here."""
    if temperature is None:
        return None
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0:
        raise ValueError(f"{name} must be > 0. Received: {name}={temperature!r}")
    return value


def valid_image_size(value):
    """True for a network input side S the model takes: ab comes out at S/4 and the trunk
    halves S three times."""
    return isinstance(value, int) and value >= 16 and value % 8 == 0


def check_image_size(value, name="image_size"):
    """Raises ValueError naming `value` unless valid_image_size(value)."""
    if not valid_image_size(value):
        raise ValueError(f"{name} must be {IMAGE_SIZE_RULE}. Received: {name}={value!r}")


def check_choice(name, value, choices):
    """Raises ValueError naming the field, its value and its choices unless `value` is one
    of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}. Received: {name}={value!r}")


def check_backbone_image_size(backbone, image_size):
    """Raises ValueError unless `image_size` suits `backbone` (mobilenet_v2: a multiple of 32)."""
    if backbone == "mobilenet_v2" and image_size % MOBILENET_SIZE_MULTIPLE:
        raise ValueError(
            f"backbone mobilenet_v2 needs image_size a multiple of {MOBILENET_SIZE_MULTIPLE} "
            f"(its deepest features are at S/32). Received: image_size={image_size!r}"
        )


def check_fc_units(units):
    """(fc1, fc2, fc3) as a tuple of ints; ValueError unless three positive integers."""
    try:
        units = tuple(int(u) for u in units)
    except (TypeError, ValueError):
        units = ()
    if len(units) != 3 or min(units) < 1:
        raise ValueError(
            f"fc_units must be three positive integers (fc1, fc2, fc3) like 1024,512,256. "
            f"Received: fc_units={units or 'not three integers'!r}"
        )
    return units


# The 20 classes of PASCAL VOC, in its order: the class labels of every data source.
VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
CLASS_LOSSES = ("softmax", "sigmoid")
BACKBONES = ("vgg16", "mobilenet_v2")
FUSION_MODES = ("concat", "film")
FUSION_INPUTS = ("fc3", "probs")
# What the semantic prior's projection reads (ModelConfig.semantic_input).
SEMANTIC_INPUTS = ("both", "features", "scores")
# init_from values that load ImageNet weights into the trunk (colorization.model.imagenet_weights).
TFLITE_INIT_PREFIX = "mobilenet_v2:"
IMAGENET_INIT = "imagenet"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Configuration of the instance-aware colorization network.

    Attributes:
      image_size: S, the side of the square L input; a multiple of 8. The colour logits are
        S/4 x S/4.
      width_multiplier: scales every convolution's channel count (1.0 = Zhang et al.'s
        64/128/256/512/512/512/512/256). Channels are rounded to multiples of 8, at least 8.
      num_classes: size of the class head (20 for PASCAL VOC).
      class_names: the name of each class the head predicts, num_classes of them, recorded in
        config.json so that every tool that shows a class reads it from the model; empty
        means the PASCAL VOC names for 20 classes, else class_0, class_1, ...
      fc_units: widths of fc1, fc2, fc3 in the classification branch; fc3 is what the colour
        path receives when fusion is on.
      use_class_branch: False gives the plain Zhang et al. network with only colour logits.
      use_fusion: tile fc3 over conv5 and concatenate it (the paper's instance-aware fusion);
        False with a class branch gives multi-task training without fusion.
      fusion_dropout: while training, drop this fraction of the fc3 units the colour path
        receives (0 = none), so that it cannot lean on the class alone for its colours.
      fusion_mode: "concat" (the paper: the vector tiled over the features and concatenated)
        or "film" (the vector scales and shifts the colour path's channels, x * (1 + g) + b,
        where the paper fuses, and on the mobilenet_v2 trunk again at S/8; g and b are
        computed from the vector by layers that start at zero).
      fusion_input: the vector fused: "fc3" (the paper) or "probs" (the class probabilities,
        which carry the class and nothing else of the photo).
      class_loss: "softmax" (single dominant label) or "sigmoid" (multi-label).
      dtype_policy: "float32", "mixed_float16" or "mixed_bfloat16"; logits stay float32.
      num_bins: colour bins of the output (313 for the Zhang et al. gamut).
      sync_batch_norm: batch statistics over the global batch across replicas (TensorFlow
        backend only); training turns it on when a strategy has more than one replica.
      backbone: "vgg16" (the paper's trunk: VGG16's 13 convolutions in Zhang et al.'s
        layout, scaled by width_multiplier) or "mobilenet_v2" (ImageNet MobileNetV2 at width
        1.0; width_multiplier then scales the colour path and class branch only).
      freeze_backbone: keep the trunk's weights fixed (mobilenet_v2).
      hints: a second input "hints" (S x S x 3: ab and mask of user colour points,
        colorization.core.hints) that enters the colour path at S/4, S/8 and S/16 through
        layers that start at zero and have no bias: with no hint the network colours as
        it would without the input.
      semantic_prior: a frozen DeepLabV3-MobileNetV2 (colorization.model.deeplab) reads
        the same grey photo as the trunk; its per-pixel features and 21 PASCAL VOC class
        scores at S/8, projected to 64 channels, join the colour path's skips at S/8 and
        S/4 (mobilenet_v2 only; its weights come from TrainConfig.semantic_from).
      semantic_input: with semantic_prior, what of DeepLab the projection reads: "both"
        (its features and its 21 class scores), "features" or "scores" alone.
    """

    image_size: int = 224
    width_multiplier: float = 1.0
    num_classes: int = 20
    class_names: tuple = ()
    fc_units: tuple = (1024, 512, 256)
    use_class_branch: bool = True
    use_fusion: bool = True
    fusion_dropout: float = 0.0
    fusion_mode: str = "concat"
    fusion_input: str = "fc3"
    class_loss: str = "softmax"
    dtype_policy: str = "float32"
    num_bins: int = NUM_BINS
    sync_batch_norm: bool = False
    backbone: str = "vgg16"
    freeze_backbone: bool = False
    hints: bool = False
    semantic_prior: bool = False
    semantic_input: str = "both"

    def __post_init__(self):
        object.__setattr__(self, "fc_units", check_fc_units(self.fc_units))
        names = tuple(str(n) for n in self.class_names)
        if not names:
            names = (
                VOC_CLASSES
                if self.num_classes == len(VOC_CLASSES)
                else tuple(f"class_{i}" for i in range(self.num_classes))
            )
        object.__setattr__(self, "class_names", names)
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"class_names must name each of the num_classes={self.num_classes} classes. "
                f"Received: {len(self.class_names)} names {list(self.class_names)[:4]}..."
            )
        check_choice("backbone", self.backbone, BACKBONES)
        check_backbone_image_size(self.backbone, self.image_size)
        if self.freeze_backbone and self.backbone != "mobilenet_v2":
            raise ValueError(
                "freeze_backbone needs backbone=mobilenet_v2 (the vgg16 trunk has no ImageNet "
                f"start offline). Received: backbone={self.backbone!r}"
            )
        check_image_size(self.image_size)
        if not 0 < self.width_multiplier <= 4:
            raise ValueError(
                f"width_multiplier must be in (0, 4]. Received: width_multiplier={self.width_multiplier!r}"
            )
        if self.num_classes < 1:
            raise ValueError(
                f"num_classes must be >= 1. Received: num_classes={self.num_classes!r}"
            )
        if self.use_fusion and not self.use_class_branch:
            raise ValueError(
                "use_fusion=True needs use_class_branch=True: fusion tiles the branch's fc3. "
                f"Received: use_class_branch={self.use_class_branch}, use_fusion={self.use_fusion}"
            )
        if not 0 <= self.fusion_dropout < 1:
            raise ValueError(
                f"fusion_dropout must be in [0, 1). Received: fusion_dropout={self.fusion_dropout!r}"
            )
        check_choice("fusion_mode", self.fusion_mode, FUSION_MODES)
        check_choice("fusion_input", self.fusion_input, FUSION_INPUTS)
        check_choice("class_loss", self.class_loss, CLASS_LOSSES)
        check_choice("dtype_policy", self.dtype_policy, DTYPE_POLICIES)
        if self.semantic_prior and self.backbone != "mobilenet_v2":
            raise ValueError(
                "semantic_prior needs backbone=mobilenet_v2 (its skips join the MobileNetV2 "
                f"colour path). Received: backbone={self.backbone!r}"
            )
        check_choice("semantic_input", self.semantic_input, SEMANTIC_INPUTS)
        if self.semantic_input != "both" and not self.semantic_prior:
            raise ValueError(
                f"semantic_input={self.semantic_input!r} chooses what the semantic prior passes "
                "on; it needs semantic_prior=True."
            )

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"Unknown ModelConfig fields: {sorted(unknown)}. Known: {sorted(known)}"
            )
        return cls(**values)


STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
SCHEDULES = ("constant", "cosine")
ENCODINGS = ("soft", "hard")
JIT_CHOICES = ("auto", "true", "false")
# What a run trains: every trainable layer, or the colour-hint layers alone.
TRAINABLE_CHOICES = ("all", "hints")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes:
      model: the `ModelConfig`.
      dataset: training source spec (see data_prep.sources).
      val_dataset: evaluation source spec; "" = the training spec's validation split.
      train_split, val_split: split names.
      data_dir: TFDS data directory.
      data_root: the folder that relative voc_dir: and folder: paths of dataset and
        val_dataset are read under (absolute paths are read as they are).
      model_dir: output directory (created; reused to resume).
      batch_size: global batch size.
      steps: total optimizer steps.
      learning_rate: peak learning rate of Adam.
      schedule: "constant" or "cosine" (cosine decay to 1 % after the warm-up).
      warmup_steps: linear warm-up from 0.
      beta_1, beta_2: Adam's betas (the reference used 0.9, 0.99).
      weight_decay: decoupled weight decay (0 = off).
      class_loss_weight: weight of the class loss; the colour loss has weight 1.
      ab_loss_weight: weight of a Huber term on the colour decoded at `temperature` against
        the target's mean ab, beside the cross-entropy (colorization.model.losses); 0 = off.
      chroma_loss_weight: weight of a term on the chroma the decoded colour lacks where the
        target has it (never on colour added); 0 = off.
      encoding, num_neighbors: colour targets: "soft" with k neighbours, or "hard".
      priors_path: priors .npz; "" = compute on the training set and save in model_dir.
      mix_lambda: lambda of the rebalancing when priors are computed; with priors_path,
        training records the file's own (the weights it holds were made at it).
      strategy: "default", "mirrored", "multi_worker" (reads TF_CONFIG) or "tpu".
      tpu: TPU address for the tpu strategy.
      seed: seeds initialisation, shuffling and augmentation.
      checkpoint_every: steps between checkpoints (and Keras epochs).
      eval_every: steps between evaluations; a multiple of checkpoint_every.
      eval_examples: validation images per periodic evaluation (0 = all).
      temperature: annealed-mean temperature for evaluation images and metrics, and the
        default when the trained model colours photos (inference.Colorizer).
      cache: keep decoded training images in memory.
      min_crop_area: smallest area fraction of a training crop.
      min_mean_chroma: a training crop whose mean chroma |ab| is below this gives no colour
        loss (near-grey and sepia photos; data_prep.pipeline); 0 = every crop counts.
      no_hint_share: with hints, the share of training photos shown without any hint (the
        others get a geometric number of simulated points); Zhang et al. 2017 show 1/8.
      source_balance: each source's share of a training epoch is proportional to its
        size ** source_balance: 1 = every photo once, 0 = every source alike (small ones
        repeated, large ones cut). Sources are the parts of the dataset spec; folder:DIR/*
        makes every subfolder of DIR one.
      init_from: .keras or .weights.h5 to warm-start from, matched by layer name;
        mobilenet_v2:PATH.tflite (ImageNet MobileNetV2 from a TFLite classifier, offline) or
        imagenet (keras.applications, needs a network) for the mobilenet_v2 trunk.
      keep_checkpoints: how many checkpoints to keep.
      jit_compile: XLA for the training step: "auto" (Keras's choice, which leaves it off
        for TensorFlow on CPU), "true" or "false".
      trainable: "all" (every layer the model config leaves trainable) or "hints" (only the
        colour-hint layers, `*_hints`: a network warm-started from one without hints then
        colours exactly as that one when given no hint, and learns to follow hints).
      edge_radius, edge_epsilon: how the trained model's ab is upsampled to a photo when it
        colours one (colorization.core.guided): 0 = bilinear; else edge-aware, the guided
        filter's window radius in cells of the S/4 grid and its epsilon (a variance of
        L/100). Recorded like the temperature, so every format decodes as its model says.
      semantic_from: the float DeepLabV3-MobileNetV2 TFLite file
        (deeplabv3_257_mv_gpu.tflite) whose weights the semantic prior starts from; needed
        with semantic_prior unless init_from is a .keras model that holds them.
    """

    model: ModelConfig = ModelConfig()
    dataset: str = "skimage"
    val_dataset: str = ""
    train_split: str = "train"
    val_split: str = "val"
    data_dir: str | None = None
    data_root: str = DEFAULT_DATA_ROOT
    model_dir: str = "runs/default"
    batch_size: int = 32
    steps: int = 1000
    learning_rate: float = 3e-5
    schedule: str = "cosine"
    warmup_steps: int = 0
    beta_1: float = 0.9
    beta_2: float = 0.99
    weight_decay: float = 0.0
    class_loss_weight: float = 0.003
    ab_loss_weight: float = 0.0
    chroma_loss_weight: float = 0.0
    encoding: str = "soft"
    num_neighbors: int = 5
    priors_path: str = ""
    mix_lambda: float = 0.5
    strategy: str = "default"
    tpu: str = ""
    seed: int = 0
    checkpoint_every: int = 100
    eval_every: int = 500
    eval_examples: int = 256
    temperature: float = DEFAULT_TEMPERATURE
    cache: bool = False
    min_crop_area: float = 0.25
    min_mean_chroma: float = 0.0
    no_hint_share: float = 0.125
    source_balance: float = 1.0
    init_from: str = ""
    keep_checkpoints: int = 3
    jit_compile: str = "auto"
    trainable: str = "all"
    semantic_from: str = ""
    edge_radius: int = 0
    edge_epsilon: float = 0.01

    def __post_init__(self):
        def check(ok, message):
            if not ok:
                raise ValueError(message)

        check(
            self.batch_size >= 1, f"batch_size must be >= 1. Received: batch_size={self.batch_size}"
        )
        check(self.steps >= 1, f"steps must be >= 1. Received: steps={self.steps}")
        check(self.learning_rate > 0, f"learning_rate must be > 0. Received: {self.learning_rate}")
        check_choice("schedule", self.schedule, SCHEDULES)
        check(
            0 <= self.warmup_steps < self.steps,
            f"warmup_steps must be in [0, steps={self.steps}). Received: {self.warmup_steps}",
        )
        check(
            0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1,
            f"betas must be in [0, 1). Received: {self.beta_1}, {self.beta_2}",
        )
        check(self.weight_decay >= 0, f"weight_decay must be >= 0. Received: {self.weight_decay}")
        check(
            self.class_loss_weight >= 0,
            f"class_loss_weight must be >= 0. Received: {self.class_loss_weight}",
        )
        check(
            self.ab_loss_weight >= 0 and self.chroma_loss_weight >= 0,
            "ab_loss_weight and chroma_loss_weight must be >= 0. Received: "
            f"{self.ab_loss_weight}, {self.chroma_loss_weight}",
        )
        check_choice("encoding", self.encoding, ENCODINGS)
        check(
            1 <= self.num_neighbors <= NUM_BINS,
            f"num_neighbors must be in [1, {NUM_BINS}]. Received: {self.num_neighbors}",
        )
        check_choice("strategy", self.strategy, STRATEGIES)
        check(
            self.checkpoint_every >= 1,
            f"checkpoint_every must be >= 1. Received: {self.checkpoint_every}",
        )
        check(
            self.eval_every >= 1 and self.eval_every % self.checkpoint_every == 0,
            f"eval_every must be a positive multiple of checkpoint_every={self.checkpoint_every}. "
            f"Received: eval_every={self.eval_every}",
        )
        checked_temperature(self.temperature)
        check(
            self.edge_radius >= 0 and self.edge_epsilon > 0,
            "edge_radius must be >= 0 (0 = bilinear decoding) and edge_epsilon > 0. "
            f"Received: edge_radius={self.edge_radius}, edge_epsilon={self.edge_epsilon}",
        )
        check(
            0 <= self.mix_lambda <= 1, f"mix_lambda must be in [0, 1]. Received: {self.mix_lambda}"
        )
        check(
            self.min_mean_chroma >= 0,
            f"min_mean_chroma must be >= 0. Received: {self.min_mean_chroma}",
        )
        check(
            0 <= self.no_hint_share <= 1,
            f"no_hint_share must be in [0, 1]. Received: {self.no_hint_share}",
        )
        check(
            self.model.hints or self.no_hint_share == TrainConfig.no_hint_share,
            "no_hint_share sets how often simulated hints are left out; it needs hints=True. "
            f"Received: no_hint_share={self.no_hint_share}",
        )
        check(
            0 <= self.source_balance <= 1,
            f"source_balance must be in [0, 1]. Received: {self.source_balance}",
        )
        check(
            self.keep_checkpoints >= 1,
            f"keep_checkpoints must be >= 1. Received: {self.keep_checkpoints}",
        )
        check_choice("jit_compile", self.jit_compile, JIT_CHOICES)
        check_choice("trainable", self.trainable, TRAINABLE_CHOICES)
        check(
            self.trainable != "hints" or self.model.hints,
            "trainable=hints trains the colour-hint layers alone; it needs hints=True.",
        )
        check(
            self.trainable != "hints" or bool(self.init_from),
            "trainable=hints needs init_from=MODEL.keras: it trains the colour-hint layers "
            "alone and keeps every other layer as it starts, which from scratch is random. "
            f"Received: init_from={self.init_from!r}",
        )
        check(bool(self.model_dir), "model_dir must not be empty.")
        init = self.init_from
        from_tflite = init.startswith(TFLITE_INIT_PREFIX)
        pretrained = from_tflite or init == IMAGENET_INIT
        check(
            not init or pretrained or init.endswith((".keras", ".weights.h5")),
            "init_from must be a .keras or .weights.h5 file, mobilenet_v2:PATH.tflite or "
            f"imagenet. Received: {init!r}",
        )
        check(
            not from_tflite or init.endswith(".tflite"),
            f"init_from=mobilenet_v2:PATH needs a .tflite file. Received: {init!r}",
        )
        check(
            not from_tflite or self.model.backbone == "mobilenet_v2",
            f"init_from={init!r} loads an ImageNet MobileNetV2 trunk; it needs "
            f"backbone=mobilenet_v2. Received: backbone={self.model.backbone!r}",
        )
        check(
            init != IMAGENET_INIT
            or self.model.backbone == "mobilenet_v2"
            or self.model.width_multiplier == 1.0,
            "init_from=imagenet with backbone vgg16 needs width_multiplier=1.0 (VGG16's "
            f"widths). Received: width_multiplier={self.model.width_multiplier}",
        )

        check(
            not self.semantic_from or self.model.semantic_prior,
            "semantic_from gives the weights of the semantic prior; it needs "
            f"semantic_prior=True. Received: semantic_from={self.semantic_from!r}",
        )
        check(
            not self.semantic_from or self.semantic_from.endswith(".tflite"),
            "semantic_from must be the float DeepLabV3 .tflite file. Received: "
            f"{self.semantic_from!r}",
        )
        check(
            not self.model.semantic_prior
            or bool(self.semantic_from)
            or self.init_from.endswith(".keras"),
            "semantic_prior=True needs semantic_from=PATH (deeplabv3_257_mv_gpu.tflite) or "
            f"init_from=MODEL.keras that holds its weights. Received: init_from={init!r}",
        )

    def check_files(self):
        """Raises ValueError when a file this run reads (priors, init_from) is missing.

        Checked when a run starts, not when a saved config is loaded: a trained model stays
        loadable after the files it was trained from have moved.
        """
        path = self.init_from
        if path.startswith(TFLITE_INIT_PREFIX):
            path = path[len(TFLITE_INIT_PREFIX) :]
        files = (
            ("priors_path", self.priors_path),
            ("init_from", path),
            ("semantic_from", self.semantic_from),
        )
        for name, value in files:
            if value and value != IMAGENET_INIT and not os.path.exists(value):
                raise ValueError(f"{name} {value!r} does not exist.")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        values["model"] = ModelConfig.from_dict(values["model"])
        return cls(**values)

    @property
    def neighbors(self):
        return 1 if self.encoding == "hard" else self.num_neighbors

    @property
    def keras_jit_compile(self):
        """The value for model.compile(jit_compile=...)."""
        return {"auto": "auto", "true": True, "false": False}[self.jit_compile]


class ResumeError(ValueError):
    """A run asked to resume with settings other than those it was started with."""


# TrainConfig fields a resumed run may change: where things are read and written, how
# often it saves and evaluates, how it runs, and how its model colours afterwards. Every
# other field (the model included) decides the data stream, the schedule or the network,
# and a resume refuses a change to it.
RESUMABLE_CHANGES = (
    "model_dir",
    "data_dir",
    "data_root",
    "val_dataset",
    "val_split",
    "strategy",
    "tpu",
    "checkpoint_every",
    "eval_every",
    "eval_examples",
    "keep_checkpoints",
    "temperature",
    "cache",
    "jit_compile",
    "edge_radius",
    "edge_epsilon",
    "init_from",
    "semantic_from",
    "priors_path",
)


def resume_conflicts(recorded, current):
    """[(field, recorded value, current value)] for every setting of `current` (TrainConfig)
    that differs from the `recorded` one and that a resumed run may not change; model
    fields are named model.FIELD."""
    conflicts = []
    old, new = recorded.to_dict(), current.to_dict()
    # With a priors file the loss weights are the file's, whatever mix_lambda says (runs
    # recorded before training wrote the file's lambda hold the flag's default).
    given_priors = bool(old.get("priors_path")) and bool(new.get("priors_path"))
    for name in sorted(set(old) | set(new)):
        if name in RESUMABLE_CHANGES or (name == "mix_lambda" and given_priors):
            continue
        if name == "model":
            for field in sorted(set(old[name]) | set(new[name])):
                a, b = old[name].get(field), new[name].get(field)
                if a != b:
                    conflicts.append((f"model.{field}", a, b))
        elif old.get(name) != new.get(name):
            conflicts.append((name, old.get(name), new.get(name)))
    return conflicts
