"""tools/run_demo.py as a command: options reach the demo runner (the stages' command
sequences are tested through pointdet.engine.demo in tests/engine/test_demo.py)."""
import shlex

import pytest

from tools.run_demo import build_parser, main


def test_stages_iterations_and_threads_reach_the_runner(capsys, tmp_path):
    assert main(["--dry-run", "--num-threads", "3", "--stages", "cpr, detector", "--full", "--cpr-iters", "7",
                 "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[demo] stages cpr, detector (full form), 3 torch thread(s) per process" in out
    cmds = [shlex.split(line.split("[demo] $ ", 1)[1]) for line in out.splitlines() if line.startswith("[demo] $ ")]
    assert any("train.max_iter=7" in c for c in cmds) and any("--num-threads=3" in c for c in cmds)
    assert not list(tmp_path.iterdir())  # a dry run writes nothing


def test_unknown_stage_is_a_usage_error_and_help_lists_the_stages(capsys):
    with pytest.raises(SystemExit):
        main(["--dry-run", "--stages", "nope"])
    assert "unknown stage(s) ['nope']" in capsys.readouterr().err
    assert "stages:" in build_parser().format_help() and "cpr_trees" in build_parser().format_help()
