"""Clean end of a multi-process run (Detectron2's ``launch``).

A process that exits while its gloo process group is still alive can abort ("terminate called
without an active exception", SIGABRT) when the other processes close their connections
first; which process wins is a race, so such a run fails now and then. Every worker that
``launch`` starts ends with :func:`close_process_group`.
"""
import torch.distributed as dist

__all__ = ["close_process_group"]


def close_process_group() -> None:
    """Wait for every process, then destroy the default process group; a no-op when the run
    is not distributed."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
