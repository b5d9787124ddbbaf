"""README "Using your own COCO data", walked end to end on a new 3-category dataset with the CPR
recipe: register, generate coarse points, train CPRNet (its hook refines the training file),
refine from the checkpoint, train P2PNet on the refined points, evaluate. Only that dataset's
files are read (``$DETECTRON2_DATASETS`` holds nothing else, and the repository's data folder is
left untouched) and everything is written inside the runs' folders."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = ["cat_a", "cat_b", "cat_c"]

REGISTER = '''
import os

from detectron2.config import LazyConfig
from detectron2.data import DatasetCatalog
from pointdet.data.datasets import register_point_coco_instances

MY = {my!r}
for _name, _file in (("my_train_points", "instances_train_coarse_points_s0.json"),
                     ("my_train_refined", {refined!r}), ("my_val", "instances_val.json")):
    if _name not in DatasetCatalog.list():
        register_point_coco_instances(_name, {{"thing_classes": {classes!r}}}, os.path.join(MY, _file), MY + "/images")
_base = LazyConfig.load({base!r})
model, dataloader, optimizer, lr_multiplier, train = (_base.model, _base.dataloader, _base.optimizer,
                                                      _base.lr_multiplier, _base.train)
if "hooks" in _base:
    hooks = _base.hooks
'''


def _write_dataset(root):
    """4 training and 2 validation images of 64 x 64 px with 1-3 boxes of 3 categories."""
    import cv2

    rng = np.random.RandomState(3)
    os.makedirs(os.path.join(root, "images"))
    aid = 0
    for split, ids in (("train", (1, 2, 3, 4)), ("val", (5, 6))):
        images, anns = [], []
        for iid in ids:
            img = rng.randint(0, 60, size=(64, 64, 3)).astype(np.uint8)
            for k in range(1 + iid % 3):
                x, y = int(rng.randint(2, 40)), int(rng.randint(2, 40))
                w, h = int(rng.randint(10, 22)), int(rng.randint(10, 22))
                img[y:y + h, x:x + w] = (200, 80 * k, 40)
                aid += 1
                anns.append({"id": aid, "image_id": iid, "category_id": k + 1, "bbox": [x, y, w, h],
                             "area": w * h, "iscrowd": 0})
            cv2.imwrite(os.path.join(root, "images", f"{iid}.png"), img)
            images.append({"id": iid, "file_name": f"{iid}.png", "width": 64, "height": 64})
        coco = {"images": images, "annotations": anns,
                "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}
        with open(os.path.join(root, f"instances_{split}.json"), "w") as f:
            json.dump(coco, f)


def _snapshot(folder):
    out = {}
    for d, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            out[os.path.relpath(p, folder)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.timeout(600)
def test_readme_own_coco_data_with_cpr(tmp_path):
    data_root = tmp_path / "datasets"  # $DETECTRON2_DATASETS: only the new dataset is there
    my = str(data_root / "my")
    _write_dataset(my)
    work = tmp_path / "work"  # the working directory of every command
    work.mkdir()
    repo_data = os.path.join(REPO, "datasets")
    repo_before = _snapshot(repo_data) if os.path.isdir(repo_data) else {}
    repo_output_before = _snapshot(os.path.join(REPO, "output")) if os.path.isdir(os.path.join(REPO, "output")) else {}
    env = dict(os.environ, DETECTRON2_DATASETS=str(data_root), CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    cpr_run, p2p_run = str(work / "runs" / "my_cprnet"), str(work / "runs" / "my_p2pnet")
    refined = os.path.join(cpr_run, "instances_train_coarse_points_s0_cpr_refined.json")
    for name, base in (("my_cprnet.py", "cprnet_mnv2_fpn_trees.py"), ("my_p2pnet.py", "p2pnet_mnv2_fpn_trees_coarse.py")):
        (work / name).write_text(REGISTER.format(my=my, refined=refined, classes=CLASSES,
                                                 base=os.path.join(REPO, "configs", "CPR", base)))
    small = ["model.num_classes=3", "model.backbone.bottom_up.weights=''", "dataloader.train.total_batch_size=2",
             "dataloader.train.num_workers=0", "train.max_iter=2", "train.checkpointer.period=2"]

    def run(*args):
        proc = subprocess.run([sys.executable, *args], cwd=str(work), env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    # 1. weak annotations (seeded), next to the input
    run(os.path.join(REPO, "tools", "make_weak_annotations.py"), "coarse-points", "--input",
        os.path.join(my, "instances_train.json"), "--seed", "0")
    # 2-3. CPRNet; its RefinePointsHook refines *this* training file into *this* run's folder
    run(os.path.join(REPO, "tools", "train_net.py"), "--num-threads", "1", "--config-file", "my_cprnet.py",
        "dataloader.train.dataset.names=my_train_points", f"train.output_dir={cpr_run}", *small)
    with open(refined) as f:
        hook_file = json.load(f)
    assert hook_file["info"]["source_file"] == "instances_train_coarse_points_s0.json"
    assert hook_file["info"]["trainer_iter"] == 2  # after the 2 iterations
    # refinement from the checkpoint (same config, so the same test-time resize)
    again = os.path.join(cpr_run, "refined_from_checkpoint.json")
    run(os.path.join(REPO, "tools", "refine_points.py"), "--config-file", "my_cprnet.py", "--weights",
        os.path.join(cpr_run, "model_final.pth"), "--input", os.path.join(my, "instances_train_coarse_points_s0.json"),
        "--image-root", os.path.join(my, "images"), "--output", again, "--quiet", "--device", "cpu",
        "model.num_classes=3", "model.backbone.bottom_up.weights=''")
    with open(again) as f:
        assert json.load(f)["annotations"] == hook_file["annotations"]
    # 4. P2PNet on the refined points, evaluated on the validation file
    run(os.path.join(REPO, "tools", "train_net.py"), "--num-threads", "1", "--config-file", "my_p2pnet.py",
        "dataloader.train.dataset.names=my_train_refined", "dataloader.test.dataset.names=my_val",
        f"train.output_dir={p2p_run}", "train.eval_period=2", *small)
    out = run(os.path.join(REPO, "tools", "evaluate_points.py"), os.path.join(my, "instances_val.json"),
              os.path.join(p2p_run, "point_results.json"))
    assert "AP" in out

    # only the new dataset's folder gained a file (its coarse points); the rest is in the runs' folders
    assert sorted(_snapshot(data_root)) == sorted(
        ["my/instances_train.json", "my/instances_val.json", "my/instances_train_coarse_points_s0.json"]
        + [f"my/images/{i}.png" for i in range(1, 7)])
    written = sorted(_snapshot(work))
    assert written and all(p.startswith("runs/my_cprnet/") or p.startswith("runs/my_p2pnet/")
                           for p in written if p not in ("my_cprnet.py", "my_p2pnet.py")), written
    assert (_snapshot(repo_data) if os.path.isdir(repo_data) else {}) == repo_before
    assert (_snapshot(os.path.join(REPO, "output")) if os.path.isdir(os.path.join(REPO, "output")) else {}) \
        == repo_output_before
