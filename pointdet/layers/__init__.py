"""Small shared ops: point bags, MIL toolkit, point NMS, nearest same-class point, the
inside-the-image rule, Matrix NMS, Dice loss, CornerNet heat-maps, RoIAlign with a vectorised CPU
backward."""
from .image_bounds import points_inside_image  # noqa: F401
from .nearest import nearest_is_self, nearest_same_class  # noqa: F401
from .point_nms import point_nms, points_to_pseudo_boxes  # noqa: F401
from .point_bags import bag_points, circle_bag_offsets, class_negative_mask, padded_image_sizes, sample_point_features  # noqa: F401,E501
from .mil import (  # noqa: F401
    MILScores,
    class_scores,
    focal_loss_on_probabilities,
    mil_bag_scores,
    mil_loss,
    negative_loss,
)
from .heatmap import (  # noqa: F401
    HeatmapTargets,
    box_heatmap_targets,
    draw_gaussian,
    gaussian_kernel,
    gaussian_radius,
    heatmap_focal_loss,
)
from .dice_loss import dice_loss  # noqa: F401
from .matrix_nms import matrix_nms  # noqa: F401
from .vectorized_roi_align import ROIAlign, ROIPooler, roi_align  # noqa: F401
