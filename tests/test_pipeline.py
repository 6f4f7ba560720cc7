"""pipeline("visual-object-tracking")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_config
from transformers import pipeline

from simtrack_hf import SimTrackImageProcessor, SimTrackModel, SimTrackTracker, VisualObjectTrackingPipeline


@pytest.fixture
def model_folder(tmp_path):
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config())
    model.save_pretrained(tmp_path)
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(tmp_path)
    return tmp_path


def frames(count=4):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    return [np.roll(base, 3 * i, axis=0) for i in range(count)]


def test_pipeline_single_box_matches_tracker(model_folder):
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    assert isinstance(pipe, VisualObjectTrackingPipeline)
    out = pipe(frames(), box=[30, 20, 40, 30])
    assert [o["frame"] for o in out] == [0, 1, 2, 3]
    assert out[0] == {"frame": 0, "box": [30.0, 20.0, 40.0, 30.0], "score": 1.0}
    tracker = SimTrackTracker.from_pretrained(model_folder)
    expected = list(tracker.track_video(frames(), [30, 20, 40, 30]))
    for o, r in zip(out, expected):
        assert np.allclose(o["box"], r.boxes[0]) and np.isclose(o["score"], r.scores[0])


def test_pipeline_several_boxes_and_folder(model_folder, tmp_path):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames()):
        cv2.imwrite(str(folder / f"{i + 1}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    out = pipe(str(folder), boxes=[[30, 20, 40, 30], [70, 50, 30, 30]])
    assert len(out) == 2 and all(len(track) == 4 for track in out)
    assert out[1][0]["box"] == [70.0, 50.0, 30.0, 30.0]
    again = pipe(frames(), boxes=[[30, 20, 40, 30], [70, 50, 30, 30]])  # no state leaks between calls
    assert np.allclose([o["box"] for o in again[0]], [o["box"] for o in out[0]])


def test_pipeline_bad_arguments(model_folder):
    pipe = pipeline("visual-object-tracking", model=str(model_folder), device="cpu")
    with pytest.raises(ValueError, match="exactly one"):
        pipe(frames())
    with pytest.raises(ValueError, match="exactly one"):
        pipe(frames(), box=[1, 2, 3, 4], boxes=[[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="positive width"):
        pipe(frames(), box=[1, 2, 0, 4])
