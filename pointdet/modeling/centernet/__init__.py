"""CenterNet (Zhou et al. 2019), the detector of SIOD (Li et al. CVPR 2022), with optional DMiner."""
from .centernet import CenterNet, decode_peaks  # noqa: F401
from .config import add_centernet_config  # noqa: F401
from .neck import CenterNetHead, CenterNetNeck, ModulatedDeformConv  # noqa: F401
