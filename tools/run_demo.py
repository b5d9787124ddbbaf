#!/usr/bin/env python
"""Run pointdet's demo pipelines on the embedded demo data, stage by stage (``make demo``).

Every stage is a chain of ordinary pointdet commands, each printed before it runs, so the
sequence can be copied and run by hand (``--dry-run`` only prints). A step whose outputs are
complete is skipped, so an interrupted demo resumes where it stopped (``--force`` reruns).
By default each stage runs its short form (about 3 minutes on 2 idle CPU cores); ``--full``
runs the longer, result-producing form. Torch threads per process default to the cores that
are free when the demo starts (``--num-threads`` sets them). The stages are listed by
``--help``; their code is in ``pointdet/engine/demo/``.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.engine.demo import DEMO_STAGES, DemoRunner, choose_num_threads, run_demo  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    width = max(len(s.name) for s in DEMO_STAGES.values())
    stages = "\n".join(f"  {s.name:<{width}}{' (default)' if s.default else ''} {s.help}" for s in DEMO_STAGES.values())
    parser = argparse.ArgumentParser(
        description=__doc__ + "\nstages:\n" + stages, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stages", default=None,
                        help="comma-separated stages (default: every stage marked default)")
    parser.add_argument("--full", action="store_true", help="the longer, result-producing form of each stage")
    parser.add_argument("--output-dir", default="output/demo")
    parser.add_argument("--force", action="store_true", help="rerun steps whose outputs exist")
    parser.add_argument("--cpr-iters", type=int, default=0, help="CPRNet iterations (0: the config's)")
    parser.add_argument("--p2p-iters", type=int, default=0, help="P2PNet iterations (0: the config's)")
    parser.add_argument("--num-threads", type=int, default=-1,
                        help="torch threads per process (-1: the cores free at start; 0: PyTorch's default)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stages = None if args.stages is None else [s.strip() for s in args.stages.split(",") if s.strip()]
    if stages is not None and any(s not in DEMO_STAGES for s in stages):
        unknown = [s for s in stages if s not in DEMO_STAGES]
        parser.error(f"unknown stage(s) {unknown}; choose from {sorted(DEMO_STAGES)}")
    runner = DemoRunner(
        output_dir=args.output_dir,
        force=args.force,
        dry_run=args.dry_run,
        full=args.full,
        num_threads=choose_num_threads() if args.num_threads < 0 else args.num_threads,
        options={"cpr_iters": args.cpr_iters, "p2p_iters": args.p2p_iters},
    )
    run_demo(stages, runner)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
