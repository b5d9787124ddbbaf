"""Click supervision (Papadopoulos, Uijlings, Keller, Ferrari, CVPR 2017): click scores
(:mod:`.scores`), the mu fit (:mod:`.calibration`), proposal sources (:mod:`.proposals`) and the
appearance model (:mod:`.appearance`, registered as ``ClickMILAppearanceModel``). The MIL loop
is :mod:`pointdet.engine.clickmil`; see projects/ClickSupervision/README.md."""
from . import appearance  # noqa: F401  (registers ClickMILAppearanceModel)
from .appearance import ClickMILAppearanceModel, add_clickmil_config, fit_linear_classifier  # noqa: F401
from .scores import *  # noqa: F401,F403
