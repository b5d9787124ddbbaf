"""Small shared ops: point bags, MIL scoring, point NMS."""
from .point_nms import point_nms, points_to_pseudo_boxes  # noqa: F401
from .point_bags import bag_points, circle_bag_offsets, class_negative_mask, padded_image_sizes, points_inside, sample_point_features  # noqa: F401,E501
from .mil import focal_loss_on_probabilities, mil_bag_scores  # noqa: F401
