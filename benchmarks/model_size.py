"""Parameters and forward FLOPs of the full model and of each training preset.

python -m benchmarks.model_size
"""

from colorization.core.config import ModelConfig
from colorization.model.network import build_model, count_flops

ROWS = (
    ("paper (full size)", dict(image_size=224)),
    ("paper at 256x256", dict(image_size=256)),
    (
        "Zhang et al. baseline (no class branch)",
        dict(image_size=256, use_class_branch=False, use_fusion=False),
    ),
    (
        "cpu preset (MobileNetV2 trunk, frozen)",
        dict(
            image_size=160,
            width_multiplier=0.5,
            fc_units=(256, 128, 64),
            backbone="mobilenet_v2",
            freeze_backbone=True,
        ),
    ),
    (
        "cpu_scratch preset",
        dict(image_size=96, width_multiplier=0.25, fc_units=(256, 128, 64)),
    ),
    ("smoke preset", dict(image_size=64, width_multiplier=0.125, fc_units=(64, 64, 32))),
)


def main():
    print("| model | S | width | parameters | GFLOPs / image |")
    print("|---|---|---|---|---|")
    for name, values in ROWS:
        config = ModelConfig(**values)
        model = build_model(config)
        print(
            f"| {name} | {config.image_size} | {config.width_multiplier} | {model.count_params():,} | "
            f"{count_flops(model) / 1e9:.2f} |"
        )


if __name__ == "__main__":
    main()
