"""Dry runs of demo stages (pointdet.engine.demo) for the stage tests: the printed output and
the commands it lists, run through the library (nothing is run or written)."""
import shlex

from pointdet.engine.demo import DemoRunner, run_demo

_MARKS = ("[demo] $ ", "[demo] skip (outputs exist): ")  # to run / already done


def dry_run_output(capsys, output_dir, stages=None, full=False, num_threads=0, **options):
    """The printed output of a dry run of ``stages`` (None: the default ones); ``options`` are the
    stage options, e.g. ``cpr_iters`` (0: the config's)."""
    options = {"cpr_iters": 0, "p2p_iters": 0, **options}
    run_demo(stages, DemoRunner(output_dir=str(output_dir), dry_run=True, full=full, num_threads=num_threads,
                                options=options))
    return capsys.readouterr().out


def dry_run_commands(capsys, output_dir, stages=None, full=False, **kw):
    """The commands of a dry run, each as an argument list, in order."""
    out = dry_run_output(capsys, output_dir, stages, full, **kw)
    return [shlex.split(line.split(m, 1)[1]) for line in out.splitlines() for m in _MARKS if line.startswith(m)]
