"""The demo pipelines behind ``make demo`` (``tools/run_demo.py``): one stage per method.

Each method registers its stages in a module of this package; importing the package
registers them all.
"""
from .runner import DEMO_STAGES, DemoRunner, DemoStage, choose_num_threads, register_stage, run_demo  # noqa: F401

# registration order is the order in which ``make demo`` runs the default stages
from . import cpr, clickmil, comining, detector, sapnet, siod  # noqa: F401,E402,I001  (register their stages)
