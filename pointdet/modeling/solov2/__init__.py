"""SOLOv2 (Wang et al., NeurIPS 2020): dynamic-kernel instance segmentation, fully supervised on its
own and the segmentation branch of SAPNet."""
from .config import add_solov2_config  # noqa: F401
from .head import SOLOv2InsHead, SOLOv2MaskFeatHead  # noqa: F401
from .solov2 import SOLOv2, solov2_level_targets  # noqa: F401
