#!/usr/bin/env python
"""Training-step time and peak memory of several LazyConfig models, each on one batch of its own
training data, measured side by side; a Markdown table with the ratios to the first config.

  python tools/benchmark_train_step.py --config-file configs/SAPNet/sapnet_mnv2_fpn_nuclei.py \\
      --config-file configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py --steps 3

Memory is the peak CUDA allocation of a step, or on CPU the peak RSS increase over 2 steps in a
fresh process per config (``--no-memory`` skips it).
"""
import argparse
import json
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", action="append", required=True)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default=None)
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--json", action="store_true", help="print every measurement as JSON instead of the table")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="overrides applied to every config")
    a = p.parse_args(argv)
    from pointdet.engine.step_benchmark import benchmark_train_steps, format_config_table

    result = benchmark_train_steps(a.config_file, a.steps, a.device, a.opts, a.num_threads, memory=not a.no_memory)
    print(json.dumps(result, indent=1) if a.json else format_config_table(result))


if __name__ == "__main__":
    sys.exit(run_cli(main))
