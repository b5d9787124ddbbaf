"""Turn the ``sal-detectron2`` cp310 wheel into a pure-Python detectron2 wheel.

detectron2 is not on PyPI under its own name. ``sal-detectron2==0.7.2`` is upstream
detectron2's Python code plus a ``_C`` extension compiled for CPython 3.10 that cannot load
on 3.11. This script unpacks that wheel, removes the compiled extension and the wheel's
top-level ``tools`` package (Detectron2's scripts, which would shadow pointdet's
``tools/``), marks the wheel pure-Python (``py3-none-any``) and packs it again.

Usage: python repack_detectron2.py SRC_WHEEL OUT_DIR  (prints the path of the new wheel)
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile


def repack(src_wheel: str, out_dir: str) -> str:
    work = tempfile.mkdtemp(prefix="d2repack_")
    try:
        subprocess.check_call([sys.executable, "-m", "wheel", "unpack", "-d", work, src_wheel], stdout=subprocess.DEVNULL)
        (root,) = glob.glob(os.path.join(work, "*"))
        for so in glob.glob(os.path.join(root, "detectron2", "_C*.so")):
            os.remove(so)
        shutil.rmtree(os.path.join(root, "tools"), ignore_errors=True)
        (dist_info,) = glob.glob(os.path.join(root, "*.dist-info"))
        wheel_meta = os.path.join(dist_info, "WHEEL")
        lines = []
        with open(wheel_meta) as f:
            for line in f:
                if line.startswith("Root-Is-Purelib:"):
                    line = "Root-Is-Purelib: true\n"
                elif line.startswith("Tag:"):
                    continue
                if line.strip():  # a blank line would end the header block
                    lines.append(line)
        lines.append("Tag: py3-none-any\n")
        with open(wheel_meta, "w") as f:
            f.writelines(lines)
        top_level = os.path.join(dist_info, "top_level.txt")
        if os.path.exists(top_level):
            with open(top_level) as f:
                names = [n for n in f.read().split() if n != "tools"]
            with open(top_level, "w") as f:
                f.write("\n".join(names) + "\n")
        # RECORD lists the removed files; wheel pack rewrites it.
        os.makedirs(out_dir, exist_ok=True)
        before = set(glob.glob(os.path.join(out_dir, "*.whl")))
        subprocess.check_call([sys.executable, "-m", "wheel", "pack", "-d", out_dir, root], stdout=subprocess.DEVNULL)
        (new,) = set(glob.glob(os.path.join(out_dir, "*.whl"))) - before or glob.glob(
            os.path.join(out_dir, "*py3-none-any.whl")
        )
        return new
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(repack(sys.argv[1], sys.argv[2]))
