"""Training-loop assembly, checkpoints and the relabel engine (a model rewrites a weak-annotation file)."""
from .refinement import RefinePointsHook, refine_annotation_file  # noqa: F401
from .relabel import RelabelProducer, relabel_file  # noqa: F401
from .checkpoint import SafeDetectionCheckpointer, is_complete_checkpoint  # noqa: F401
from .defaults import (  # noqa: F401
    build_evaluator,
    build_extra_hooks,
    build_trainer,
    check_image_files,
    default_argument_parser,
    do_test,
    do_train,
    evaluate_checkpoint,
    resolve_device,
    scale_to_world_size,
    setup,
    train_or_evaluate,
)
