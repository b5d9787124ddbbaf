"""tools/prepare_demo_data.py as a command (the preparation itself is tested through
pointdet.data.demo in tests/data/test_demo_data.py)."""
from pointdet.data.demo import prepare_demo_data
from pointdet.utils.cli import run_cli
from tools.prepare_demo_data import main


def test_prints_the_summary_of_the_prepared_data(capsys):
    expected = prepare_demo_data()  # `make data` has run: the manifest is there, nothing is fetched
    assert main([]) == expected
    text = capsys.readouterr().out
    assert "pointdet_trees_train" in text and "1049" in text and "mobilenet_v2-b0353104.pth" in text


def test_an_unwritable_root_is_one_line_and_exit_status_2(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert run_cli(main, ["--root", str(tmp_path / "file" / "demo")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
