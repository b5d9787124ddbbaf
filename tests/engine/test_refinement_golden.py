"""Before/after guard of CPR refinement: the same checkpoint and the same input file give a
byte-identical refined file (``data/tiny_refined_golden.json`` was written by the refinement
code as it stood before the relabel engine, from ``data/tiny_cprnet.pth``)."""
import hashlib
import os

from tests.engine.tiny_cpr import DATA, tiny_cprnet, tiny_mapper, write_tiny_dataset

GOLDEN = os.path.join(DATA, "tiny_refined_golden.json")
GOLDEN_SHA256 = "81b1590215d9d1fa4751a7d6f66cc90ef9ac769cb8d31bbc1eb57328c6d097ac"


def _refine(tmp_path):
    from pointdet.engine.refinement import refine_annotation_file

    src, root = write_tiny_dataset(tmp_path)
    out = str(tmp_path / "refined.json")
    refine_annotation_file(tiny_cprnet(), src, root, out, mapper=tiny_mapper(), progress=False,
                           info={"weights": "tiny_cprnet.pth"})
    with open(out, "rb") as f:
        return f.read()


def test_refined_file_is_byte_identical_to_the_golden(tmp_path):
    with open(GOLDEN, "rb") as f:
        golden = f.read()
    assert hashlib.sha256(golden).hexdigest() == GOLDEN_SHA256
    got = _refine(tmp_path)
    assert got == golden, "refined file differs from tests/engine/data/tiny_refined_golden.json"
