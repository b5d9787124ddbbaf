"""DMiner (SIOD, Li et al. CVPR 2022): SPLG pseudo labels, PGCL contrastive loss, anchor pooling."""
from .anchor_pooling import anchor_pseudo_objectness, pool_pseudo_labels  # noqa: F401
from .dminer import DMiner  # noqa: F401
from .pgcl import PGCL_NORMALIZATIONS, PGCLTerms, pgcl_loss, select_latent_positives  # noqa: F401
from .splg import class_prototypes, merge_pseudo_heatmap, splg_pseudo_heatmap, unlabeled_mask  # noqa: F401
from .config import add_dminer_config, dminer_from_config  # noqa: F401
from .fcos import FCOSDMiner  # noqa: F401
from .rpn import DMinerBranch, DMinerRPN  # noqa: F401
