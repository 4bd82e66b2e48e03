"""DDP: a 2-process gloo run launched with torchrun trains like the single-process run."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zslkit.training.distributed import DistContext, init_distributed, resolve_device
from zslkit.training.feature_maps import save_feature_maps
from zslkit.image_pipeline import AttentionNetConfig, load_attention_net, train_attention_net

SRC = Path(__file__).resolve().parents[2] / "src"

CFG = dict(epochs=2, lr=0.05, optimizer="sgd", lr_step=1, lr_gamma=0.5, ways=4, shots=2, loss="remse",
           remse_mode="in_batch", progress=False, gamma=0.0, select_epochs=False, seed=1, device="cpu")

_WORKER = """
import json, os, sys, torch
import torch.distributed as dist
torch.set_num_threads(1)
sys.path.insert(0, {src!r})
from zslkit.training.feature_maps import load_feature_maps
from zslkit.image_pipeline import AttentionNetConfig, train_attention_net
from zslkit.training.loop import StopAfterEpochs
# Two training calls in one process: create the process group once (train_attention_net reuses
# it); re-creating a default group under the same torchrun store is not reliable.
dist.init_process_group("gloo")
data = load_feature_maps(sys.argv[1])
# Interrupted after epoch 1, then resumed: rank 0 reads the checkpoint and broadcasts it.
first = train_attention_net(AttentionNetConfig(out_dir=sys.argv[2], **{cfg!r}), data, callbacks=[StopAfterEpochs(1)])
assert len(first.history) == 1
result = train_attention_net(AttentionNetConfig(out_dir=sys.argv[2], resume=True, **{cfg!r}), data)
if int(os.environ["RANK"]) == 1:  # rank 1 reports what it computed; rank 0 writes the run directory
    print("RANK1", json.dumps({{"losses": [r["loss"] for r in result.history], "T1": result.metrics.T1,
                               "world_size": result.world_size}}))
dist.destroy_process_group()
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_run_matches_single_process(tiny_maps, tmp_path):
    """torchrun, 2 processes on CPU (gloo): interrupted after epoch 1, resumed, compared with one process."""
    save_feature_maps(tmp_path / "data", tiny_maps)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(src=str(SRC), cfg=CFG))
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(script), str(tmp_path / "data"), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=env)
    except subprocess.TimeoutExpired as exc:  # pragma: no cover - a hung rendezvous must not hang CI
        out_text = (exc.stdout or b"")[-3000:] if isinstance(exc.stdout, bytes) else (exc.stdout or "")[-3000:]
        err_text = (exc.stderr or b"")[-3000:] if isinstance(exc.stderr, bytes) else (exc.stderr or "")[-3000:]
        pytest.fail(f"torchrun did not finish in 150 s:\n{out_text}\n{err_text}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    single = train_attention_net(AttentionNetConfig(out_dir=str(tmp_path / "single"), **CFG), tiny_maps)
    ddp_log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    # Same global episodes and the global-batch ReMSE weights: the loss curves agree up to float rounding.
    np.testing.assert_allclose([r["loss"] for r in ddp_log], [r["loss"] for r in single.history], rtol=1e-5)
    np.testing.assert_allclose([r["reg"] for r in ddp_log], [r["reg"] for r in single.history], rtol=1e-5)
    assert [r["images"] for r in ddp_log] == [r["images"] for r in single.history]  # images of both processes
    ddp_model, _ = load_attention_net(out)
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(ddp_model.state_dict()[k], v, rtol=1e-4, atol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    # Rank 1 computed the same metrics on the full test split but wrote nothing.
    rank1 = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RANK1"))[6:])
    assert rank1["world_size"] == 2 and rank1["T1"] == metrics["zsl"]["T1"]
    # Only rank 0 writes: one copy of each run file, no per-rank leftovers.
    # (tensorboard/: rank 0's event files, written when the package is installed)
    tensorboard = ["tensorboard"] if importlib.util.find_spec("tensorboard") is not None else []
    assert sorted(p.name for p in out.iterdir()) == sorted([
        ".zslkit-manifest.jsonl", ".zslkit.lock", "checkpoints", "config.yaml", "curve.json", "history.json",
        "log.jsonl", "metrics.csv", "metrics.json", "model.pt", "predictions.npz", *tensorboard])
    from zslkit.utils.outputs import read_manifest

    listed = read_manifest(out)["entries"]  # rank 0's manifest lists every file of the run
    assert all(p.name in listed for p in out.iterdir() if not p.name.startswith(".zslkit"))


def test_single_process_context_is_a_no_op(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    ctx = init_distributed("cpu")
    assert not ctx.is_distributed and ctx.is_main and ctx.device == torch.device("cpu")
    t = torch.ones(3)
    assert ctx.all_reduce_sum(t) is t and ctx.mean_of([1.0, 2.0]) == [1.0, 2.0]
    assert ctx.broadcast_object({"a": 1}) == {"a": 1} and ctx.all_gather_object(5) == [5]
    assert torch.equal(ctx.gather_rows(t), t)
    ctx.barrier()
    assert DistContext().describe()["world_size"] == 1


def test_environment_errors(monkeypatch):
    from zslkit.errors import ConfigError

    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE='two'"):
        init_distributed("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(ConfigError, match="MASTER_ADDR is not set"):
        init_distributed("cpu")
    with pytest.raises(ConfigError, match="nccl"):
        init_distributed("cpu", backend="nccl")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu")
