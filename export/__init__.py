"""Export of trained colorizers: SavedModel for TF Serving, TFLite for devices.

Every exported graph takes images and returns images: the colour conversion, the resizing,
the annealed-mean decoding and the full-resolution join run inside it, with the same code
(colorization.core.color, colorization.core.bins, colorization.inference) that training and the
Python inference path use.
"""
