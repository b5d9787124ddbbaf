"""pointdet.data.provenance: the one ``info`` builder (key order, checksums, provenance chain)."""
import hashlib

from pointdet.data.provenance import build_info, file_record, source_checksums, with_info


def test_build_info_order_and_records(tmp_path):
    src = tmp_path / "in.json"
    src.write_bytes(b"{}")
    cfg = tmp_path / "cfg.py"
    cfg.write_bytes(b"x = 1\n")
    info = build_info("pointdet.test", header={"version": 2}, params={"r": 1}, seed=0,
                      inputs={"source": str(src), "gt": None, "config": str(cfg)}, extra={"weights": "w.pth"},
                      statistics={"n": 3}, source_info={"generator": "up"})
    assert list(info) == ["description", "generator", "version", "params", "seed", "source_file", "source_sha256",
                          "config_file", "config_sha256", "weights", "statistics", "source_info"]
    assert info["description"] == "pointdet pointdet.test"
    assert info["source_sha256"] == hashlib.sha256(b"{}").hexdigest()
    assert file_record("config", str(cfg)) == {"config_file": "cfg.py", "config_sha256": hashlib.sha256(b"x = 1\n").hexdigest()}
    assert "seed" not in build_info("g") and build_info("g", seed=None)["seed"] is None


def test_source_checksums_follow_the_chain():
    info = {"source_sha256": "b", "source_info": {"generator": "x", "source_info": {"source_sha256": "a"}}}
    assert source_checksums(info) == {0: "b", 2: "a"}
    assert source_checksums(None) == {}


def test_with_info_replaces_info_and_keeps_the_order():
    data = {"images": [1], "info": {"old": 1}, "annotations": [2], "categories": [3]}
    out = with_info(data, {"generator": "g"})
    assert list(out) == ["info", "images", "annotations", "categories"] and out["info"] == {"generator": "g"}
    assert data["info"] == {"old": 1} and out["images"] is data["images"]  # the input is not changed
