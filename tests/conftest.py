"""Test-session set-up: the suite runs with plain ``pytest`` on a checkout where ``make data`` has run.

``DETECTRON2_DATASETS`` defaults to the checkout's ``datasets/`` folder (as ``make test`` sets
it), so the result does not depend on the working directory. When the demo data that ``make
data`` prepares is missing, the session stops at once with one message that says how to
create it, instead of a row of unrelated-looking failures.
"""
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DETECTRON2_DATASETS", os.path.join(REPO, "datasets"))


def _missing_demo_files():
    root = os.path.join(os.path.expanduser(os.environ["DETECTRON2_DATASETS"]), "pointdet_demo")
    needed = [os.path.join(root, "manifest.json")]
    for split in ("trees", "nuclei"):
        needed.append(os.path.join(root, split, "annotations", f"{split}_train_coarse_points_s0.json"))
    return root, [p for p in needed if not os.path.isfile(p)]


def pytest_report_header(config):
    root, missing = _missing_demo_files()
    return f"pointdet demo data: {root} ({'complete' if not missing else 'MISSING'})"


def pytest_sessionstart(session):
    root, missing = _missing_demo_files()
    if missing:
        pytest.exit(
            f"pointdet's demo data is missing ({missing[0]} and {len(missing) - 1} more) under {root}. "
            "Run `make data` once (or `make test`, which runs it), or point DETECTRON2_DATASETS at a "
            "folder where it has run.",
            returncode=4,
        )
