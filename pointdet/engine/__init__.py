from .refinement import RefinePointsHook, refine_annotation_file  # noqa: F401
from .relabel import RelabelProducer, relabel_file  # noqa: F401
