"""SAPNet's MIL head (Sec. 3.2-3.3): two shared FC layers on 7x7 RoI features, with the class and
instance branches of the PSM (K + 1 columns, the last the background) and of the PRM (K)."""
import torch
from torch import nn

from detectron2.layers import ShapeSpec
import fvcore.nn.weight_init as weight_init

__all__ = ["SAPNetMILHead"]


class SAPNetMILHead(nn.Module):
    """flatten -> FC -> ReLU -> FC -> ReLU (shared by both stages), then per stage f_cls / f_ins."""

    def __init__(self, *, input_shape: ShapeSpec, num_classes: int, fc_dim: int = 1024):
        """
        Args:
            input_shape: RoI feature shape (channels, height = width = pooler resolution).
            num_classes: K.
            fc_dim: width of the two shared FC layers (1024).
        """
        super().__init__()
        d = input_shape.channels * input_shape.height * input_shape.width
        self.fc1 = nn.Linear(d, fc_dim)
        self.fc2 = nn.Linear(fc_dim, fc_dim)
        for fc in (self.fc1, self.fc2):
            weight_init.c2_xavier_fill(fc)
        self.psm_cls = nn.Linear(fc_dim, num_classes + 1)
        self.psm_ins = nn.Linear(fc_dim, num_classes + 1)
        self.prm_cls = nn.Linear(fc_dim, num_classes)
        self.prm_ins = nn.Linear(fc_dim, num_classes)
        for fc in (self.psm_cls, self.psm_ins, self.prm_cls, self.prm_ins):
            nn.init.normal_(fc.weight, std=0.01)
            nn.init.constant_(fc.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C, P, P) RoI features -> (R, fc_dim) shared embeddings."""
        x = torch.relu(self.fc1(x.flatten(1)))
        return torch.relu(self.fc2(x))
