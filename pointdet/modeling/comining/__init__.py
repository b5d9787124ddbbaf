"""Co-mining (Wang, Yang, Cao, Zhang, "Co-mining: Self-Supervised Learning for Sparsely
Annotated Object Detection", AAAI 2021): co-generation of pseudo boxes and Siamese training
of RetinaNet / FCOS. See ``projects/CoMining/README.md``."""
from .co_generation import (  # noqa: F401
    clip_and_drop_empty,
    co_generate,
    decode_pseudo_boxes,
    drop_annotated_duplicates,
    merge_with_annotations,
)
from .settings import (  # noqa: F401
    PAPER_SCORE_THRESH,
    PAPER_SCORE_THRESH_FCOS,
    SPARSE_LEVELS,
    sparse_level_overrides,
    sparse_train_name,
)
from .siamese import VIEWS, CoMiningFCOS, CoMiningMixin, CoMiningRetinaNet, add_comining_config  # noqa: F401
