"""Demo "two-stage" variant (SAPNet Table 3): SOLOv2 retrained on the masks a trained SAPNet chose
(``tools/sapnet_select.py sapnet`` writes ``SELECTION``); otherwise ``solov2_mnv2_fpn_nuclei_top1.py``.

    python tools/sapnet_select.py sapnet --config-file configs/SAPNet/sapnet_mnv2_fpn_nuclei.py \\
        --weights output/SAPNet/sapnet_mnv2_fpn_nuclei/model_final.pth \\
        --input datasets/pointdet_demo/nuclei/annotations/nuclei_train_coarse_points_s0.json \\
        --image-root datasets/pointdet_demo/nuclei/images \\
        --proposals output/SAPNet/proposals/nuclei_train_coarse_points_s0_classical.json \\
        --output output/SAPNet/nuclei_train_sapnet_selection.json
    python tools/train_net.py --num-threads 1 --config-file configs/SAPNet/solov2_mnv2_fpn_nuclei_two_stage.py
"""
from .solov2_mnv2_fpn_nuclei_top1 import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

SELECTION = "output/SAPNet/nuclei_train_sapnet_selection.json"

dataloader.train.dataset.selection_file = SELECTION
train.output_dir = "./output/SAPNet/solov2_mnv2_fpn_nuclei_two_stage"
