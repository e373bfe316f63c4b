"""Instance-aware automatic image colorization in TensorFlow/Keras.

Modules, one concern each:
  color     sRGB <-> CIELAB (D65) in TensorFlow ops.
  bins      the 313 quantized ab bins: encode ab to bins, decode bin distributions to ab.
  config    frozen dataclass configurations.
  model     the two-output Keras model (colour logits, class logits).
  losses    rebalanced colour cross-entropy and the class losses.
"""
