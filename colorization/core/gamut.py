"""The 313 quantised ab bins of Zhang et al. 2016 (the in-gamut cells of a 10 x 10 grid of
the ab plane), in NumPy alone so that the network (any Keras backend) can read them;
colorization.core.bins builds the TensorFlow maths on them."""

import numpy as np

from colorization.core.config import NUM_BINS

GRID_SIZE = 10

# (a, first b, last b) per column of the gamut, b stepping by GRID_SIZE.
_BIN_COLUMNS = (
    (-90, 50, 90),
    (-80, 20, 90),
    (-70, 0, 90),
    (-60, -20, 90),
    (-50, -30, 100),
    (-40, -40, 100),
    (-30, -50, 100),
    (-20, -50, 100),
    (-10, -60, 100),
    (0, -70, 100),
    (10, -80, 90),
    (20, -80, 90),
    (30, -90, 90),
    (40, -100, 90),
    (50, -100, 80),
    (60, -110, 80),
    (70, -110, 80),
    (80, -110, 70),
    (90, -110, 70),
    (100, -90, 0),
)


def bin_centers():
    """The 313 bin centres as a NumPy int64 array (313, 2) of (a, b), reference order."""
    rows = [
        (a, b) for a, first, last in _BIN_COLUMNS for b in range(first, last + GRID_SIZE, GRID_SIZE)
    ]
    centers = np.asarray(rows, dtype=np.int64)
    assert centers.shape == (NUM_BINS, 2), centers.shape  # A fact of the table, not input.
    return centers
