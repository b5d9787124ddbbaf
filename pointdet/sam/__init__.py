"""Prompted-mask proposals for SAPNet: Segment Anything (or a labelled classical stand-in) prompted
with the annotated points, written as proposal files (:mod:`pointdet.data.proposals`)."""
from .generate import (  # noqa: F401
    build_source,
    generate_proposal_parts,
    masks_to_proposals,
    merge_proposal_parts,
    parse_shard,
    run_proposal_tool,
)
from .sources import SAM_MODEL_TYPES, ClassicalSource, PromptedMaskSource, SAMSource, build_sam_from_checkpoint  # noqa: F401
