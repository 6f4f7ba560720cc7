"""Evaluation sharded over processes: the split of the sequences, and 2 CPU ranks (gloo, torchrun) giving the same
result files, scores and tables as one process, resuming what is already there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackImageProcessor, SimTrackModel
from simtrack_hf.data.benchmarks import BenchmarkSequence
from simtrack_hf.data.synthetic import write_got10k_dataset
from simtrack_hf.evaluation.runner import shard_sequences


def sequence(name: str, length: int) -> BenchmarkSequence:
    return BenchmarkSequence(name, [f"{i}.jpg" for i in range(length)], np.zeros((length, 4)), None, "synthetic")


def test_shard_sequences_longest_first_balanced_by_frames():
    sequences = [sequence(f"s{i}", n) for i, n in enumerate([10, 300, 40, 200, 100, 90, 60])]
    shards = shard_sequences(sequences, 2)
    assert [[s.name for s in shard] for shard in shards] == [["s1", "s5", "s0"], ["s3", "s4", "s6", "s2"]]
    assert [sum(len(s) for s in shard) for shard in shards] == [400, 400]
    assert sorted(s.name for shard in shard_sequences(sequences, 3) for s in shard) == sorted(s.name for s in sequences)
    assert shard_sequences(sequences, 9)[8] == []  # more ranks than videos: some ranks have nothing to do
    with pytest.raises(ValueError, match="num_shards"):
        shard_sequences(sequences, 0)


def evaluate_command(root: Path, model: Path, out: Path) -> list[str]:
    return ["evaluate", "--dataset-format", "synthetic", "--root", str(root), "--model", str(model),
            "--results-dir", str(out), "--batch-sequences", "1", "--device", "cpu", "--no-progress"]


@pytest.mark.slow
def test_two_cpu_ranks_match_one_process(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    SimTrackModel(config).save_pretrained(tmp_path / "model")
    SimTrackImageProcessor.from_model_config(config).save_pretrained(tmp_path / "model")
    root = tmp_path / "bench"
    write_got10k_dataset(root, num_sequences=4, num_frames=6, size=(96, 128), split="val")
    for name, keep in (("GOT-10k_Val_000001", 3), ("GOT-10k_Val_000004", 4)):
        folder = root / "val" / name
        for jpg in sorted(folder.glob("*.jpg"))[keep:]:
            jpg.unlink()
        for label in ("groundtruth.txt", "absence.label", "cover.label", "cut_by_image.label"):
            (folder / label).write_text("\n".join((folder / label).read_text().splitlines()[:keep]) + "\n")

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "1"}
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    subprocess.run([sys.executable, "-m", "simtrack_hf.commands", *evaluate_command(root / "val", tmp_path / "model",
                                                                                     single)],
                   check=True, env=env, capture_output=True, text=True)
    # Resumable: one sequence is already done before the launch (by the same run: its run.json) and is read back,
    # not tracked again.
    (sharded / "simtrack").mkdir(parents=True)
    for name in ("GOT-10k_Val_000003.txt", "GOT-10k_Val_000003_time.txt", "run.json"):
        shutil.copy(single / "simtrack" / name, sharded / "simtrack")
    kept = (sharded / "simtrack" / "GOT-10k_Val_000003.txt").stat().st_mtime_ns
    torchrun = Path(sys.executable).with_name("torchrun")
    launched = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "simtrack_hf.commands",
         *evaluate_command(root / "val", tmp_path / "model", sharded)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("| simtrack | 4 |") == 1  # one table, printed by rank 0 only
    assert (sharded / "simtrack" / "GOT-10k_Val_000003.txt").stat().st_mtime_ns == kept

    names = sorted(p.name for p in (single / "simtrack").glob("*.txt"))
    assert names == sorted(p.name for p in (sharded / "simtrack").glob("*.txt")) and len(names) == 8
    for name in names:
        if not name.endswith("_time.txt"):
            assert (single / "simtrack" / name).read_bytes() == (sharded / "simtrack" / name).read_bytes(), name
    scores = [json.loads((out / "results.json").read_text())["trackers"]["simtrack"] for out in (single, sharded)]
    for entry in scores:
        entry.pop("fps"), entry.pop("results_dir")
    assert scores[0] == scores[1]
    assert (sharded / "success_plot.png").is_file() and (sharded / "results.md").is_file()
