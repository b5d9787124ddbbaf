"""Learning-rate multipliers for LazyConfig experiments.

``multistep_with_warmup`` (from :mod:`pointdet.solver`) is Detectron2's step schedule (x0.1 at
each step) with a linear warm-up, sized in iterations so that short demo schedules and long
benchmark schedules use the same function.
"""
from pointdet.solver import multistep_with_warmup  # noqa: F401  (experiment files import it from here)
