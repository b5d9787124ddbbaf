"""Evaluators: point mAP, score-aware AP, and annotation-quality metrics."""
