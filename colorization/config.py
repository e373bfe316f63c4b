"""Frozen dataclass configurations, validated once when constructed.

Library code takes these objects (or plain arguments); only entry points read flags.
"""

import dataclasses

_DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
_CLASS_LOSSES = ("softmax", "sigmoid")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Configuration of the instance-aware colorization network.

    Attributes:
      image_size: S, the side of the square L input; a multiple of 8. The colour logits are
        S/4 x S/4.
      width_multiplier: scales every convolution's channel count (1.0 = Zhang et al.'s
        64/128/256/512/512/512/512/256). Channels are rounded to multiples of 8, at least 8.
      num_classes: size of the class head (20 for PASCAL VOC).
      fc_units: widths of fc1, fc2, fc3 in the classification branch; fc3 is what the colour
        path receives when fusion is on.
      use_class_branch: False gives the plain Zhang et al. network with only colour logits.
      use_fusion: tile fc3 over conv5 and concatenate it (the paper's instance-aware fusion);
        False with a class branch gives multi-task training without fusion.
      class_loss: "softmax" (single dominant label) or "sigmoid" (multi-label).
      dtype_policy: "float32", "mixed_float16" or "mixed_bfloat16"; logits stay float32.
      num_bins: colour bins of the output (313 for the Zhang et al. gamut).
    """

    image_size: int = 224
    width_multiplier: float = 1.0
    num_classes: int = 20
    fc_units: tuple = (1024, 512, 256)
    use_class_branch: bool = True
    use_fusion: bool = True
    class_loss: str = "softmax"
    dtype_policy: str = "float32"
    num_bins: int = 313

    def __post_init__(self):
        object.__setattr__(self, "fc_units", tuple(int(u) for u in self.fc_units))
        if not isinstance(self.image_size, int) or self.image_size < 16 or self.image_size % 8:
            raise ValueError(
                f"image_size must be an integer >= 16 and a multiple of 8. "
                f"Received: image_size={self.image_size!r}"
            )
        if not 0 < self.width_multiplier <= 4:
            raise ValueError(
                f"width_multiplier must be in (0, 4]. Received: width_multiplier={self.width_multiplier!r}"
            )
        if self.num_classes < 1:
            raise ValueError(
                f"num_classes must be >= 1. Received: num_classes={self.num_classes!r}"
            )
        if len(self.fc_units) != 3 or min(self.fc_units) < 1:
            raise ValueError(
                f"fc_units must be three positive widths (fc1, fc2, fc3). Received: fc_units={self.fc_units!r}"
            )
        if self.use_fusion and not self.use_class_branch:
            raise ValueError(
                "use_fusion=True needs use_class_branch=True: fusion tiles the branch's fc3. "
                f"Received: use_class_branch={self.use_class_branch}, use_fusion={self.use_fusion}"
            )
        if self.class_loss not in _CLASS_LOSSES:
            raise ValueError(
                f"class_loss must be one of {_CLASS_LOSSES}. Received: class_loss={self.class_loss!r}"
            )
        if self.dtype_policy not in _DTYPE_POLICIES:
            raise ValueError(
                f"dtype_policy must be one of {_DTYPE_POLICIES}. Received: dtype_policy={self.dtype_policy!r}"
            )

    @property
    def output_size(self):
        """Side of the colour logits map, S/4."""
        return self.image_size // 4

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
