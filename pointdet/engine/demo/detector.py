"""Demo stage ``detector``: a box-supervised RetinaNet (MobileNetV2-FPN) on the aerial-tree
tiles, the Detectron2 baseline every weakly supervised method is compared with."""
import os

from .runner import DemoRunner, register_stage


@register_stage("detector", "a box-supervised RetinaNet on the tree tiles (300 iterations, about "
                            "7 minutes on 2 CPU cores)", default=False)
def stage_detector(runner: DemoRunner) -> None:
    out = runner.stage_dir("retinanet_trees")
    runner.train("configs/demo/retinanet_mnv2_fpn_trees.py", f"train.output_dir={out}",
                 outputs=[os.path.join(out, "model_final.pth")])
