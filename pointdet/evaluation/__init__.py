"""Evaluators: point mAP, score-aware AP, and annotation-quality metrics."""
from .point_ap import PointAPEvaluator, add_point_eval_config, evaluate_point_ap  # noqa: F401
from .results_io import check_results, load_results  # noqa: F401
from .score_aware import ScoreAwareCOCOEvaluator, evaluate_score_aware, evaluate_score_aware_tasks  # noqa: F401
