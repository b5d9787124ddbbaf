"""CPR: CPRNet (point-bag MIL) and coarse point refinement (Yu et al. CVPR 2022)."""
from .config import add_cprnet_config  # noqa: F401
from .cpr_head import CPRHead  # noqa: F401
from .cprnet import CPRNet  # noqa: F401
from .refinement import CPRRefinementParams, refine_points  # noqa: F401
