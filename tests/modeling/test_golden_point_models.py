"""Same seed -> same losses and same refinement: CPRNet and P2PNet against recorded values.

The constants below were recorded with the code before the point models were moved onto a
shared base class, the MIL toolkit and the shared nearest/inside helpers; the refactored code
must reproduce them. ``python -m tests.modeling.test_golden_point_models`` prints the values
of the current code (to inspect a difference, not to overwrite the record without a reason).
"""
import pytest
import torch

from detectron2.utils.events import EventStorage

from pointdet.modeling.cpr import CPRRefinementParams
from tests.modeling.fixtures import empty_instances, point_instances, tiny_cprnet, tiny_p2pnet

REL, ABS = 2e-6, 1e-6


def _image(g, h, w):
    return torch.randint(0, 255, (3, h, w), generator=g).float()


def _batch():
    """Three images: points near each other and near the border, an empty image, an unpadded size.

    No bag point falls exactly on an image border (x == w or y == h): there the shared inside
    rule (closed, :mod:`pointdet.layers.image_bounds`) differs from the half-open test the
    bags used before; tests/layers/test_image_bounds.py covers the border itself.
    """
    g = torch.Generator().manual_seed(123)
    return [
        {"image": _image(g, 48, 56), "image_id": 1, "height": 96, "width": 112,
         "instances": point_instances([[12.0, 12.0], [20.0, 14.0], [40.5, 30.0], [50.0, 44.0]], [0, 0, 1, 0],
                                      (48, 56), [1, 2, 3, 4])},
        {"image": _image(g, 40, 40), "image_id": 2, "instances": empty_instances((40, 40))},
        {"image": _image(g, 33, 45), "image_id": 3,
         "instances": point_instances([[44.0, 3.0], [8.5, 30.0]], [2, 1], (33, 45), [5, 6])},
    ]


CPR_VARIANTS = {
    "default": dict(num_classes=3, bag_radius=2),
    "no_center_all_pos": dict(num_classes=3, bag_radius=1, append_center=False, use_all_positive_loss=True),
}


def _train3(model):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    out = []
    with EventStorage():
        for _ in range(3):
            losses = model(_batch())
            out.append({k: v.item() for k, v in sorted(losses.items())})
            opt.zero_grad()
            sum(losses.values()).backward()
            opt.step()
    return out


def capture_cpr_losses(variant):
    torch.manual_seed(0)
    return _train3(tiny_cprnet(**CPR_VARIANTS[variant]))


def capture_p2pnet_losses():
    torch.manual_seed(0)
    return _train3(tiny_p2pnet(num_classes=3))


def capture_refinement(always_include_annotated):
    torch.manual_seed(0)
    rules = CPRRefinementParams(always_include_annotated=always_include_annotated)
    model = tiny_cprnet(num_classes=3, bag_radius=2, refinement=rules)
    with torch.no_grad():  # spread the class scores so that every rule decides something
        g = torch.Generator().manual_seed(9)
        model.head.cls_out.weight.copy_(torch.randn(model.head.cls_out.weight.shape, generator=g) * 3)
        model.head.cls_out.bias.zero_()
    model.eval()
    out = []
    for r in model.refine(_batch(), return_bags=True):
        inst = r["instances"]
        out.append(
            {
                "pred_points": inst.pred_points.tolist(),
                "scores": inst.scores.tolist(),
                "refined": inst.refined.tolist(),
                "bag_keep": inst.bag_keep.int().tolist(),
            }
        )
    return out


def _flat(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flat(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for e in x for v in _flat(e)]
    return [x]


def _assert_same(got, expected):
    assert _flat(got) == pytest.approx(_flat(expected), rel=REL, abs=ABS)
    assert str(type(got)) == str(type(expected)) and len(_flat(got)) == len(_flat(expected))


GOLDEN_CPR_LOSSES = {'default': [{'loss_ann': 0.5608546733856201,
              'loss_mil': 1.1240538358688354,
              'loss_neg': 3.258421565988101e-05},
             {'loss_ann': 0.5572271943092346,
              'loss_mil': 1.1180813312530518,
              'loss_neg': 3.448561255936511e-05},
             {'loss_ann': 0.5498195290565491,
              'loss_mil': 1.106034755706787,
              'loss_neg': 3.8515805499628186e-05}],
 'no_center_all_pos': [{'loss_ann': 0.5608546733856201,
                        'loss_mil': 1.123085379600525,
                        'loss_neg': 3.657005800050683e-05,
                        'loss_pos': 1.1224302053451538},
                       {'loss_ann': 0.5547043681144714,
                        'loss_mil': 1.1108406782150269,
                        'loss_neg': 4.0436450944980606e-05,
                        'loss_pos': 1.1099822521209717},
                       {'loss_ann': 0.5415640473365784,
                        'loss_mil': 1.0843695402145386,
                        'loss_neg': 4.971931775799021e-05,
                        'loss_pos': 1.0831130743026733}]}
GOLDEN_P2PNET_LOSSES = [{'loss_cls': 1.128299593925476, 'loss_point': 0.5323728322982788},
 {'loss_cls': 1.126932978630066, 'loss_point': 0.5332269072532654},
 {'loss_cls': 1.1243153810501099, 'loss_point': 0.5331040024757385}]
GOLDEN_REFINEMENT = {False: [{'bag_keep': [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
                       [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
          'pred_points': [[24.0, 24.0], [62.627418518066406, 50.627418518066406],
                          [96.99999237060547, 59.999996185302734], [92.73826599121094, 88.0]],
          'refined': [False, True, True, True],
          'scores': [0.0, 0.3190743029117584, 0.21470291912555695, 0.898180365562439]},
         {'bag_keep': [], 'pred_points': [], 'refined': [], 'scores': []},
         {'bag_keep': [[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0]],
          'pred_points': [[35.697357177734375, 3.0], [8.5, 17.256244659423828]],
          'refined': [True, True],
          'scores': [0.963547945022583, 0.3722127079963684]}],
 True: [{'bag_keep': [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
                      [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
         'pred_points': [[24.0, 24.0], [60.39997863769531, 48.39997863769531],
                         [96.62831115722656, 59.999996185302734], [92.73826599121094, 88.0]],
         'refined': [False, True, True, True],
         'scores': [0.0, 0.3190743029117584, 0.21470291912555695, 0.8152933716773987]},
        {'bag_keep': [], 'pred_points': [], 'refined': [], 'scores': []},
        {'bag_keep': [[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]],
         'pred_points': [[35.697357177734375, 3.0], [8.5, 17.303977966308594]],
         'refined': [True, True],
         'scores': [0.9999991655349731, 0.3722127079963684]}]}


@pytest.mark.parametrize("variant", sorted(CPR_VARIANTS))
def test_cprnet_losses_same_as_recorded(variant):
    _assert_same(capture_cpr_losses(variant), GOLDEN_CPR_LOSSES[variant])


def test_p2pnet_losses_same_as_recorded():
    _assert_same(capture_p2pnet_losses(), GOLDEN_P2PNET_LOSSES)


@pytest.mark.parametrize("include", [True, False])
def test_cprnet_refinement_same_as_recorded(include):
    got = capture_refinement(include)
    exp = GOLDEN_REFINEMENT[include]
    for g, e in zip(got, exp):
        assert g["refined"] == e["refined"] and g["bag_keep"] == e["bag_keep"]
    _assert_same(got, exp)


if __name__ == "__main__":
    import pprint

    pprint.pprint({v: capture_cpr_losses(v) for v in sorted(CPR_VARIANTS)}, width=120)
    pprint.pprint(capture_p2pnet_losses(), width=120)
    pprint.pprint({b: capture_refinement(b) for b in (True, False)}, width=120, compact=True)
