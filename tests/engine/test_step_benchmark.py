"""The step benchmark runs each config's model on its own batch and reports every step."""
from pointdet.engine.step_benchmark import benchmark_train_steps

CFG = "configs/SAPNet/solov2_mnv2_fpn_nuclei.py"


def test_benchmark_train_steps():
    opts = ["model.ins_head.feat_channels=16", "model.ins_head.stacked_convs=1",
            "dataloader.train.total_batch_size=1"]
    out = benchmark_train_steps([CFG], steps=1, device="cpu", opts=opts)
    r = out[CFG]
    assert r["images"] == 1 and len(r["steps"]) == 1 and r["step_s"] == r["steps"][0] > 0 and r["peak_mib"] is None
