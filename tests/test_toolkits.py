"""Toolkit adapters: the official GOT-10k toolkit runs and reports the tracker; the pytracking interface."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackModel, SimTrackTracker
from simtrack_hf.data.synthetic import write_got10k_dataset
from simtrack_hf.io.frames import read_image

pytest.importorskip("got10k")
from got10k.experiments import ExperimentGOT10k  # noqa: E402

from simtrack_hf.evaluation.toolkits import GOT10kToolkitTracker, PytrackingTracker  # noqa: E402


@pytest.fixture(scope="module")
def tracker() -> SimTrackTracker:
    torch.manual_seed(0)
    return SimTrackTracker(SimTrackModel(tiny_config()))


@pytest.fixture(scope="module")
def got10k_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("got10k")
    write_got10k_dataset(root, num_sequences=2, num_frames=5, size=(96, 128), split="val")
    return root


def reference_boxes(tracker: SimTrackTracker, frames: list, box: np.ndarray) -> np.ndarray:
    results = list(tracker.track_video(frames, box))
    return np.stack([r.boxes[0] for r in results])


def test_got10k_experiment_runs_and_reports(tracker, got10k_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = ExperimentGOT10k(str(got10k_root), subset="val", result_dir=str(tmp_path / "results"),
                                  report_dir=str(tmp_path / "reports"))
    adapter = GOT10kToolkitTracker(tracker, name="simtrack-tiny")
    experiment.run(adapter)
    performance = experiment.report([adapter.name])
    assert set(performance["simtrack-tiny"]["seq_wise"]) == set(experiment.dataset.seq_names)
    assert 0.0 <= performance["simtrack-tiny"]["overall"]["ao"] <= 1.0
    assert json.loads((tmp_path / "reports/GOT-10k/simtrack-tiny/performance.json").read_text())
    # One repetition (deterministic), and the boxes are the tracker's own (the toolkit writes 3 decimals).
    name = experiment.dataset.seq_names[0]
    records = sorted((tmp_path / "results/GOT-10k/simtrack-tiny" / name).glob(f"{name}_[0-9]*.txt"))
    assert [p.name for p in records] == [f"{name}_001.txt"]
    files, anno = experiment.dataset[name][:2]  # report() left return_meta on
    expected = reference_boxes(tracker, [read_image(f) for f in files], anno[0])
    np.testing.assert_allclose(np.loadtxt(records[0], delimiter=","), expected, atol=5e-4)


def test_pytracking_interface_matches_tracker(tracker, got10k_root):
    files = sorted((got10k_root / "val" / "GOT-10k_Val_000001").glob("*.jpg"))
    frames = [read_image(f) for f in files]
    box = np.loadtxt(got10k_root / "val" / "GOT-10k_Val_000001" / "groundtruth.txt", delimiter=",")[0]
    adapter = PytrackingTracker(tracker)
    out = adapter.initialize(frames[0], {"init_bbox": box.tolist()})
    assert out["target_bbox"] == box.tolist()
    tracked = [adapter.track(frame, {}) for frame in frames[1:]]
    assert all(set(t) == {"target_bbox", "object_presence_score"} for t in tracked)
    np.testing.assert_array_equal(np.array([t["target_bbox"] for t in tracked]),
                                  reference_boxes(tracker, frames, box)[1:])
    with pytest.raises(ValueError, match="init_bbox"):
        adapter.initialize(frames[0], {"bbox": box.tolist()})
