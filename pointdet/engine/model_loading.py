"""Build the model of a LazyConfig (with overrides) and load its weights: the shared first step
of the tools that run a trained model outside ``tools/train_net.py`` (refinement, benchmarks)."""
import os
from typing import Optional, Sequence, Tuple

__all__ = ["load_model_from_config"]


def load_model_from_config(
    config_file: str,
    weights: Optional[str] = None,
    opts: Sequence[str] = (),
    device: Optional[str] = None,
    require_method: Optional[str] = None,
) -> Tuple["torch.nn.Module", "object"]:  # noqa: F821
    """Instantiate ``cfg.model`` of a LazyConfig and load ``weights``.

    Args:
        config_file: LazyConfig ``.py``; ``opts`` are ``key=value`` overrides.
        weights: checkpoint loaded with :class:`SafeDetectionCheckpointer` (no code runs from the file) (None: keep the initialisation,
            and the model stays in training mode).
        device: "cpu" / "cuda"; default ``cfg.train.device``, else CUDA when available.
        require_method: refuse a model without this method, e.g. ``"refine"`` for a CPRNet.
    Returns:
        ``(model, cfg)``; with ``weights`` the model is in eval mode.
    Raises:
        FileNotFoundError: a missing config or weights file. ValueError: wrong model type.
    """
    import torch
    from detectron2.config import LazyConfig, instantiate

    import pointdet  # noqa: F401  (registrations)

    from .checkpoint import SafeDetectionCheckpointer

    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"--config-file {config_file} does not exist")
    if weights is not None and not os.path.isfile(weights):
        raise FileNotFoundError(f"--weights {weights} does not exist")
    cfg = LazyConfig.load(config_file)
    cfg = LazyConfig.apply_overrides(cfg, list(opts or []))
    if device is None:
        device = cfg.get("train", {}).get("device", None) or ("cuda" if torch.cuda.is_available() else "cpu")
    model = instantiate(cfg.model).to(device)
    if require_method is not None and not hasattr(model, require_method):
        raise ValueError(f"{config_file}: model is {type(model).__name__}, which has no {require_method}()")
    if weights is not None:
        SafeDetectionCheckpointer(model).load(weights)
        model.eval()
    return model, cfg
