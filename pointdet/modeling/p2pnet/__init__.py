"""Multi-class P2PNet point localizer (CPR paper Sec. 4.2) and the self-refinement baseline."""
from .config import add_p2pnet_config  # noqa: F401
from .matcher import focal_classification_cost, point_match_cost, topk_hungarian_match  # noqa: F401
from .p2pnet import P2PHead, P2PNet, point_grid  # noqa: F401
from .self_refinement import prediction_point, self_refine_points  # noqa: F401
