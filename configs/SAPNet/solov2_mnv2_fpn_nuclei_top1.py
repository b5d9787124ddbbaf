"""Demo baseline "SAM-top1 -> SOLOv2" (SAPNet Table 1 / 3) on the nuclei: each point's top-scoring
prompted-mask proposal (classical source on the demo) is its box and mask label for a fully
supervised SOLOv2 (``solov2_mnv2_fpn_nuclei.py``'s model and schedule). Needs the proposals of
``sapnet_mnv2_fpn_nuclei.py``.

    python tools/train_net.py --num-threads 1 --config-file configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py
"""
from ..common.data.sapnet_nuclei import dataloader_top1 as dataloader  # noqa: F401
from .solov2_mnv2_fpn_nuclei import lr_multiplier, model, optimizer, train  # noqa: F401

train.output_dir = "./output/SAPNet/solov2_mnv2_fpn_nuclei_top1"
