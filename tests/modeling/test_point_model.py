"""PointModel, the plumbing CPRNet and P2PNet share: feature level, normalisation and padding,
ground truth with errors naming the image, event logging."""
import pytest
import torch

from detectron2.structures import Instances
from detectron2.utils.events import EventStorage

from pointdet.modeling.cpr import CPRNet
from pointdet.modeling.p2pnet import P2PNet
from pointdet.modeling.point_model import GroundTruthError, PointModel
from tests.modeling.fixtures import TinyFPN, empty_instances, point_instances


def _model(**kw):
    kw.setdefault("in_feature", "p3")
    return PointModel(backbone=TinyFPN(), pixel_mean=[10.0, 20.0, 30.0], pixel_std=[2.0, 4.0, 5.0], **kw)


def test_both_point_models_subclass_it():
    assert issubclass(CPRNet, PointModel) and issubclass(P2PNet, PointModel)


def test_feature_level_and_unknown_feature():
    m = _model(in_feature="p2")
    assert m.stride == 4.0 and m.in_feature == "p2" and m.input_format == "RGB"
    with pytest.raises(KeyError, match="no feature 'p5'"):
        _model(in_feature="p5")


def test_preprocess_normalises_and_pads():
    m = _model()
    a = torch.stack([torch.full((5, 9), 14.0), torch.full((5, 9), 28.0), torch.full((5, 9), 40.0)])
    b = torch.full((3, 8, 8), 10.0)
    images = m.preprocess_image([{"image": a}, {"image": b}])
    assert images.tensor.shape == (2, 3, 8, 16)  # padded to the backbone's size divisibility 8
    assert images.image_sizes == [(5, 9), (8, 8)]
    assert images.tensor[0, :, 0, 0].tolist() == [2.0, 2.0, 2.0]  # (14-10)/2, (28-20)/4, (40-30)/5
    assert images.tensor[0, :, 6, 0].tolist() == [0.0, 0.0, 0.0]  # padding
    assert images.tensor[1, :, 0, 0].tolist() == [0.0, -2.5, -4.0]  # (10-10)/2, (10-20)/4, (10-30)/5


def test_ground_truth_fields_and_defaults():
    m = _model()
    with_ids = point_instances([[1.0, 2.0]], [3], (8, 8), [42])
    no_ids = Instances((8, 8))
    no_ids.gt_points = torch.tensor([[4, 5], [6, 7]])  # integer points become float32
    no_ids.gt_classes = torch.tensor([0, 1], dtype=torch.int32)
    no_ids.gt_point_valid = torch.tensor([True, False])  # other fields travel along
    out = m.ground_truth([{"instances": with_ids}, {"instances": no_ids}, {"instances": empty_instances((8, 8))}])
    assert out[0].gt_ann_ids.tolist() == [42] and out[0].gt_classes.tolist() == [3]
    assert out[1].gt_points.dtype == torch.float32 and out[1].gt_points.tolist() == [[4.0, 5.0], [6.0, 7.0]]
    assert out[1].gt_classes.dtype == torch.int64 and out[1].gt_ann_ids.tolist() == [-1, -1]
    assert out[1].gt_point_valid.tolist() == [True, False]
    assert out[2].gt_points.shape == (0, 2) and out[2].gt_ann_ids.shape == (0,)
    assert not no_ids.has("gt_ann_ids")  # the input is not modified


def test_ground_truth_errors_name_the_image():
    m = _model()
    with pytest.raises(GroundTruthError, match="'instances'.*image 17"):
        m.ground_truth([{"image_id": 17}])
    inst = Instances((8, 8))
    inst.gt_points = torch.zeros(1, 2)
    with pytest.raises(GroundTruthError, match="image a.png lack gt_classes"):
        m.ground_truth([{"file_name": "a.png", "instances": inst}])
    bad = point_instances([[1.0, 1.0]], [0], (8, 8))
    bad.remove("gt_ann_ids")
    bad.gt_ann_ids = torch.tensor([[1, 2]])  # (1, 2): two ids for one point
    with pytest.raises(GroundTruthError, match="image 3 has 1 gt_points but 1 gt_classes / 2 gt_ann_ids"):
        m.ground_truth([{"image_id": 3, "instances": bad}])
    assert issubclass(GroundTruthError, ValueError)


def test_log_scalar_inside_and_outside_a_trainer():
    PointModel.log_scalar("x", 1.0)  # no EventStorage: nothing, no error
    with EventStorage() as storage:
        PointModel.log_scalar("cpr/test", 0.5)
        assert storage.latest()["cpr/test"][0] == 0.5
