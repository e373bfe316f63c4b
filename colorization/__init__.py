"""Instance-aware automatic image colorization in TensorFlow/Keras.

Subpackages, lowest first; a module imports only from its own subpackage and the ones
before it (tests/test_layers.py checks this):
  core        colour maths (color), the 313 ab bins (bins), configurations (config, presets,
              flags), hardware detection and the command-line convention (cli).
  model       the two-output Keras network and its trunks, losses, ImageNet weights and
              model directories (model_files).
  inference   decoding to colour photos, the Colorizer, the demo page and the
              TensorFlow-free TFLite runner.
  archive     colouring many photos: the colorize command's batched pipeline, its manifest
              and progress, and the same steps on Apache Beam.
  evaluation  metrics, the crop and full-photo protocols, the evaluate command.
  training    the trainer, its callbacks, distribution strategies and the optimizer.

The modules at this level are the commands (`python -m colorization.colorize`, `.beam`,
`.evaluate`, `.demo`, `.tflite_colorize`); data_prep/ sits between core and model.
"""
