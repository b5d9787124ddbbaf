"""SAPNet (Wei et al., CVPR 2024): point-prompted instance segmentation from SAM proposal bags."""
from .config import add_sapnet_config  # noqa: F401
from .functions import (  # noqa: F401
    background_negative_valid,
    box_mining,
    mps_indices,
    part_negatives,
    point_distance_guidance,
    positive_proposals,
    random_negative_boxes,
)
from .mil_head import SAPNetMILHead  # noqa: F401
from .sapnet import SAPNet, SAPNetSelection  # noqa: F401
