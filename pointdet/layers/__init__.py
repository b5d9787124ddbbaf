"""Small shared ops: point bags, MIL scoring, point NMS."""
from .point_nms import point_nms, points_to_pseudo_boxes  # noqa: F401
