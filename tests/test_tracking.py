"""SimTrackTracker: the original episode, N targets per forward, videos, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from conftest import fixture_config, tiny_config

from simtrack_hf import SimTrackImageProcessor, SimTrackModel
from simtrack_hf.convert_simtrack import convert_original_state_dict
from simtrack_hf.inference.tracker import SimTrackTracker


def fixture_tracker(fx: dict, name: str) -> SimTrackTracker:
    config = fixture_config(name)
    model = SimTrackModel(config)
    model.load_state_dict(convert_original_state_dict(fx["state_dict"], config))
    return SimTrackTracker(model)


@pytest.mark.parametrize("name", ["tiny_b16", "tiny_b32"])
def test_reproduces_original_episode(fixtures, name):
    fx = fixtures[name]
    episode = fx["tracker_episode"]
    tracker = fixture_tracker(fx, name)
    frames = [f.numpy() for f in episode["frames"]]
    calls = episode["sample_target_calls"]
    first = tracker.init(frames[0], episode["init_bbox"])
    assert np.array_equal(first.boxes[0], episode["init_bbox"]) and first.scores[0] == 1
    template = tracker.processor.preprocess(frames[0], episode["init_bbox"], crop="template")
    assert torch.equal(template["template_pixel_values"], episode["template_tensor"])
    assert torch.equal(tracker.template_boxes, episode["template_anno_norm"].reshape(1, 4))
    assert np.array_equal(tracker.processor.crop_around_boxes(frames[0], episode["init_bbox"], calls[0]["factor"],
                                                              calls[0]["output_sz"])[0][0], calls[0]["crop"].numpy())
    for i, frame in enumerate(frames[1:]):
        state = episode["states"][i]
        previous = tracker.boxes[0]
        assert np.abs(previous - state["prev_state"]).max() < 1e-4
        crop, _ = tracker.processor.crop_around_boxes(frame, previous, calls[i + 1]["factor"], calls[i + 1]["output_sz"])
        assert np.array_equal(crop[0], calls[i + 1]["crop"].numpy())
        result = tracker.track(frame)
        assert result.frame_index == i + 1
        assert np.abs(result.boxes[0] - state["state"]).max() < 1e-4  # measured <= 4.2e-5 px


def random_tracker(seed: int = 0, **kw) -> SimTrackTracker:
    torch.manual_seed(seed)
    return SimTrackTracker(SimTrackModel(tiny_config()), **kw)


def textured_frames(count: int = 5, size: tuple[int, int] = (120, 160), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[0], size[1], 3), dtype=np.uint8)
    return [np.roll(base, shift=2 * i, axis=1) for i in range(count)]


def test_n_targets_in_one_forward_equal_single_trackers(monkeypatch):
    frames = textured_frames()
    boxes = [[20, 30, 30, 25], [90, 50, 20, 40], [60, 10, 40, 30]]
    tracker = random_tracker()
    calls = []
    forward = tracker.model.forward
    monkeypatch.setattr(tracker.model, "forward", lambda *a, **k: calls.append(k["search_pixel_values"].shape[0]) or forward(*a, **k))
    tracker.init(frames[0], boxes)
    joint = [tracker.track(f) for f in frames[1:]]
    assert calls == [3] * (len(frames) - 1)  # one forward per frame, one row per target
    for n, box in enumerate(boxes):
        single = random_tracker()
        single.init(frames[0], box)
        for frame, result in zip(frames[1:], joint):
            alone = single.track(frame)
            assert np.allclose(alone.boxes[0], result.boxes[n], atol=1e-3)
            assert np.allclose(alone.scores[0], result.scores[n], atol=1e-5)


def test_track_video_on_generated_mp4(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for frame in textured_frames(8):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    results = list(random_tracker().track_video(str(path), [40, 40, 30, 30]))
    assert [r.frame_index for r in results] == list(range(8))
    assert np.array_equal(results[0].boxes, [[40, 40, 30, 30]])
    for r in results[1:]:
        assert r.boxes.shape == (1, 4) and np.isfinite(r.boxes).all() and (r.boxes[:, 2:] >= 10).all()
        assert 0 <= r.scores[0] <= 1


def test_target_leaving_the_frame_keeps_a_valid_box():
    frames = textured_frames(6)
    tracker = random_tracker()
    tracker.init(frames[0], [130, 90, 29, 29])  # touches the bottom-right corner
    for frame in frames[1:]:
        box = tracker.track(frame).boxes[0]
        x, y, w, h = box
        assert w >= 10 and h >= 10 and x <= 160 - 10 and y <= 120 - 10 and x + w > 0 and y + h > 0


def test_from_pretrained_folder_and_dtype(tmp_path):
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config())
    model.save_pretrained(tmp_path)
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(tmp_path)
    frames = textured_frames(3)
    expected = SimTrackTracker(model)
    expected.init(frames[0], [40, 40, 30, 30])
    tracker = SimTrackTracker.from_pretrained(tmp_path, device="cpu")
    tracker.init(frames[0], [40, 40, 30, 30])
    assert np.allclose(tracker.track(frames[1]).boxes, expected.track(frames[1]).boxes)
    double = SimTrackTracker.from_pretrained(tmp_path, torch_dtype=torch.float64)
    double.init(frames[0], [40, 40, 30, 30])
    assert double.model.dtype == torch.float64
    assert np.allclose(double.track(frames[1]).boxes, tracker.boxes, atol=1e-3)


def test_grayscale_and_rgba_frames_are_converted():
    frames = textured_frames(2)
    rgb = random_tracker()
    rgb.init(frames[0], [40, 40, 30, 30])
    gray = cv2.cvtColor(frames[1], cv2.COLOR_RGB2GRAY)
    assert rgb.track(np.dstack([gray] * 3)).boxes.shape == (1, 4)
    other = random_tracker()
    other.init(frames[0], [40, 40, 30, 30])
    other.track(np.dstack([gray] * 3))
    tracker = random_tracker()
    tracker.init(np.dstack([frames[0], np.full(frames[0].shape[:2], 255, np.uint8)]), [40, 40, 30, 30])
    tracker.track(gray)  # 2-D grayscale accepted
    assert np.allclose(tracker.boxes, other.boxes)


@pytest.mark.parametrize(
    "box, message",
    [([10, 10, 0, 20], "positive width"), ([10, float("nan"), 20, 20], "NaN"), ([500, 500, 20, 20], "outside")],
)
def test_bad_boxes(box, message):
    with pytest.raises(ValueError, match=message):
        random_tracker().init(textured_frames(1)[0], box)


def test_bad_frames_and_order():
    tracker = random_tracker()
    with pytest.raises(RuntimeError, match="init"):
        tracker.track(textured_frames(1)[0])
    tracker.init(textured_frames(1)[0], [40, 40, 30, 30])
    with pytest.raises(ValueError, match="differs from the first frame"):
        tracker.track(textured_frames(1, size=(100, 160))[0])
    with pytest.raises(ValueError, match="uint16|dtype"):
        tracker.track(textured_frames(1)[0].astype(np.uint16) * 257)
    with pytest.raises(ValueError, match="no frames|empty|Empty"):
        list(random_tracker().track_video([], [40, 40, 30, 30]))
    with pytest.raises(FileNotFoundError):
        list(random_tracker().track_video("missing.mp4", [40, 40, 30, 30]))


def test_processor_model_mismatch():
    model = SimTrackModel(tiny_config())
    with pytest.raises(ValueError, match="search_size"):
        SimTrackTracker(model, SimTrackImageProcessor(template_size=64, search_size=256))
