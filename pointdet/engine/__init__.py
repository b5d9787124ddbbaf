from .refinement import RefinePointsHook, refine_annotation_file  # noqa: F401
