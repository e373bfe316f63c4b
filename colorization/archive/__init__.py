"""Colouring a whole archive of photos: files read as a person expects them (upright, in
sRGB), a batched pipeline that keeps both the decoding threads and the network busy, a
manifest of what made every output (so a second run resumes), progress output, and the same
steps as an Apache Beam pipeline (colorization.beam).

Modules:
  photo_files  reading photos (EXIF orientation, ICC profiles, CMYK, 16-bit, palettes, a
               pixel limit checked from the header) and writing PNGs atomically.
  steps        the per-photo steps around the network (prepare, finish) in TensorFlow ops,
               and the network at a fixed batch size, shared by the command and Beam.
  manifest     the record of which model and settings made each output.
  progress     a progress bar on a terminal, plain lines elsewhere.
  runner       the command line's threaded pipeline over a list of files.
"""
