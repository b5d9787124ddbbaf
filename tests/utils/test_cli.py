"""pointdet.utils.cli.run_cli: the tools' exit convention."""
import pytest

from pointdet.utils.cli import run_cli


def _raising(exc):
    def main(argv=None):
        raise exc

    return main


@pytest.mark.parametrize("exc, message", [(ValueError("bad id 3 in a.json"), "bad id 3 in a.json"),
                                          (FileNotFoundError("a.json not found"), "a.json not found"),
                                          (KeyError("no key 'x'"), "no key 'x'")])
def test_input_errors_are_one_line_and_exit_status_2(capsys, exc, message):
    assert run_cli(_raising(exc)) == 2
    assert capsys.readouterr().err == f"error: {message}\n"  # a KeyError without its repr quotes


def test_status_and_bugs():
    assert run_cli(lambda argv: None) == 0
    assert run_cli(lambda argv: {"a": 1}) == 0  # a returned result is success
    assert run_cli(lambda argv: 3) == 3
    assert run_cli(lambda argv: True) == 0  # a bool is not a status
    assert run_cli(lambda argv: len(argv), ["x", "y"]) == 2  # argv reaches main
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_cli(lambda argv: 1 / 0)
