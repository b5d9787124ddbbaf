"""pointdet.modeling.preprocess.ImageInputMixin: normalisation against hand-computed values,
padding by the backbone's rules (or a model's own), buffers outside the state dict."""
import torch
from torch import nn

from detectron2.modeling import Backbone

from pointdet.modeling.preprocess import ImageInputMixin


class _Backbone(Backbone):
    def __init__(self, size_divisibility, padding_constraints=None):
        super().__init__()
        self._div, self._pc = size_divisibility, padding_constraints or {}

    def forward(self, x):
        return {"res5": x}

    @property
    def size_divisibility(self):
        return self._div

    @property
    def padding_constraints(self):
        return self._pc


class _Model(ImageInputMixin, nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.init_image_input([10.0, 20.0, 30.0], [2.0, 4.0, 5.0], "BGR")


class _OwnPadding(_Model):
    def image_padding(self):
        return 7, {}


def test_normalize_and_pad():
    model = _Model(_Backbone(4))
    assert model.input_format == "BGR" and model.device == torch.device("cpu")
    assert model.pixel_mean.dtype == torch.float32 and model.state_dict() == {}
    image = torch.tensor([[[12]], [[28]], [[45]]], dtype=torch.uint8)  # (3, 1, 1)
    assert model.normalize_image(image).flatten().tolist() == [1.0, 2.0, 3.0]  # (12-10)/2, (28-20)/4, (45-30)/5
    batch = model.preprocess_image([{"image": image.expand(3, 5, 6)}, {"image": image.expand(3, 2, 9)}])
    assert batch.tensor.shape == (2, 3, 8, 12) and batch.image_sizes == [(5, 6), (2, 9)]
    assert batch.tensor[1, :, :2, :9].eq(torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1)).all()
    assert batch.tensor[1, :, 2:].abs().sum() == 0  # padding is zero after normalisation


def test_padding_constraints_and_model_override():
    image = torch.zeros(3, 5, 6)
    assert _Model(_Backbone(4, {"square_size": 16})).preprocess_image([{"image": image}]).tensor.shape[-2:] == (16, 16)
    assert _Model(_Backbone(4, {"size_divisibility": 32})).preprocess_image([{"image": image}]).tensor.shape[-2:] == (32, 32)
    assert _OwnPadding(_Backbone(4, {"square_size": 16})).preprocess_image([{"image": image}]).tensor.shape[-2:] == (7, 7)
