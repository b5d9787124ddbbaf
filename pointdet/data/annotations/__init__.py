"""Weak-annotation generators: coarse / quasi-center points, center clicks,
Keep1 and sparse box sets, each a pure seeded ``make_*`` function and a ``run_*`` that reads
and writes files (``tools/make_weak_annotations.py`` is the command line)."""
from .clicks import center_clicks, make_center_clicks, run_center_clicks
from .coarse_points import (
    make_coarse_points,
    make_quasi_center_points,
    rectified_gaussian_weights,
    run_coarse_points,
    run_quasi_center_points,
    sample_coarse_point,
    sample_pixel,
    sample_rectified_gaussian_pixel,
)
from .common import box_local_mask, default_output_path, erased_output_path, make_rng
from .keep1 import make_keep1, run_keep1
from .sparse import SPARSE_LEVELS, make_sparse, num_to_erase, run_sparse
