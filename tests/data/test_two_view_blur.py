"""Co-mining's optional Gaussian-blur second view (Co-mining Sec. 3.3, Table 4 "blur") in
:class:`~pointdet.data.dataset_mapper.TwoViewDatasetMapper`: same boxes, blurred pixels."""
import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from detectron2.config import get_cfg
from detectron2.data import transforms as T
from detectron2.structures import BoxMode
from PIL import Image

from pointdet.data.dataset_mapper import TwoViewDatasetMapper, add_point_data_config, color_jitter, gaussian_blur

W, H = 40, 30


@pytest.fixture
def image_file(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(img).save(path)
    return str(path)


def _box_dict(image_file):
    anns = [
        {"id": 1, "category_id": 0, "iscrowd": 0, "bbox": [2.0, 3.0, 10.0, 8.0], "bbox_mode": BoxMode.XYWH_ABS},
        {"id": 2, "category_id": 1, "iscrowd": 0, "bbox": [20.0, 10.0, 12.0, 15.0], "bbox_mode": BoxMode.XYWH_ABS},
    ]
    return {"file_name": image_file, "height": H, "width": W, "image_id": 3, "annotations": anns}


def test_gaussian_blur_kernel_and_probability():
    impulse = torch.zeros(1, 30, 40, dtype=torch.uint8)
    impulse[0, 15, 20] = 255
    out = gaussian_blur(impulse, sigma=(1.0, 1.0), kernel_fraction=0.1, prob=1.0)
    # kernel 10% of the shorter side 30 -> 3 (odd): the impulse spreads to its 3x3 neighbourhood only
    assert (out[0] > 0).nonzero().tolist() == [[y, x] for y in (14, 15, 16) for x in (19, 20, 21)]
    # 1-D Gaussian weights at sigma 1 over [-1, 0, 1]: e^-0.5 / (1 + 2 e^-0.5) = 0.2741, centre 0.4519
    w_side, w_mid = np.exp(-0.5) / (1 + 2 * np.exp(-0.5)), 1 / (1 + 2 * np.exp(-0.5))
    assert abs(int(out[0, 15, 20]) - 255 * w_mid * w_mid) <= 1
    assert abs(int(out[0, 14, 21]) - 255 * w_side * w_side) <= 1
    # 60 px -> 6 -> the next odd size 7
    big = torch.zeros(1, 60, 60, dtype=torch.uint8)
    big[0, 30, 30] = 255
    spread = (gaussian_blur(big, sigma=(2.0, 2.0), prob=1.0)[0] > 0).nonzero()
    assert spread[:, 0].min() == 27 and spread[:, 0].max() == 33
    const = torch.full((3, 8, 8), 77, dtype=torch.uint8)
    assert torch.equal(gaussian_blur(const, prob=1.0), const)
    assert torch.equal(gaussian_blur(impulse, prob=0.0), impulse)
    with pytest.raises(ValueError, match="C, H, W"):
        gaussian_blur(impulse[0])


def test_blur_view_identical_boxes_different_pixels(image_file):
    kw = dict(is_train=True, augmentations=[T.Resize((60, 80)), T.RandomFlip(prob=1.0)], image_format="RGB")
    out = TwoViewDatasetMapper(seed=0, jitter_prob=0.0, blur_prob=1.0, blur_sigma=(1.5, 1.5), **kw)(_box_dict(image_file))
    plain = TwoViewDatasetMapper(seed=0, jitter_prob=0.0, **kw)(_box_dict(image_file))
    assert torch.equal(out["instances"].gt_boxes.tensor, plain["instances"].gt_boxes.tensor)
    assert torch.equal(out["image"], plain["image"])
    assert torch.equal(plain["image_jittered"], plain["image"])  # no jitter, no blur: "w/o aug" (Table 4)
    assert not torch.equal(out["image_jittered"], out["image"])
    expected = TF.gaussian_blur(out["image"], kernel_size=[7, 7], sigma=[1.5, 1.5])  # 10% of 60 -> 7
    assert torch.equal(out["image_jittered"], expected)


def test_blur_off_by_default_keeps_the_jitter_sequence(image_file):
    kw = dict(is_train=True, augmentations=[], image_format="RGB")
    m = TwoViewDatasetMapper(seed=5, **kw)
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        out = m(_box_dict(image_file))
        assert torch.equal(out["image_jittered"], color_jitter(out["image"], generator=g))


def test_blur_yacs_keys():
    cfg = add_point_data_config(get_cfg())
    assert (cfg.INPUT.GAUSSIAN_BLUR.PROB, list(cfg.INPUT.GAUSSIAN_BLUR.SIGMA), cfg.INPUT.GAUSSIAN_BLUR.KERNEL_FRACTION) == (
        0.0, [0.1, 2.0], 0.1)
    cfg.INPUT.POINT_SUPERVISION = "boxes"
    cfg.INPUT.GAUSSIAN_BLUR.PROB = 0.5
    m = TwoViewDatasetMapper(cfg, is_train=True)
    assert m.blur_params == dict(sigma=(0.1, 2.0), kernel_fraction=0.1, prob=0.5)
