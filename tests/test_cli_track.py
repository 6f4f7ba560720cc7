"""`simtrack track` on a generated video, and the attention maps."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackImageProcessor, SimTrackModel, SimTrackTracker
from simtrack_hf.commands import main
from simtrack_hf.examples import example_clips
from simtrack_hf.inference.attention import attention_maps, target_attention_maps
from simtrack_hf.io.boxes import read_results


@pytest.fixture
def model_folder(tmp_path):
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config())
    model.save_pretrained(tmp_path / "model")
    SimTrackImageProcessor.from_model_config(model.config).save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def write_video(path, count=6, size=(120, 160)):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (size[1], size[0]))
    for i in range(count):
        writer.write(np.roll(base, 2 * i, axis=1))
    writer.release()


def test_cli_track_writes_video_results_and_attention(tmp_path, model_folder, capsys):
    video = tmp_path / "in.mp4"
    write_video(video)
    out, results, maps = tmp_path / "out.mp4", tmp_path / "boxes.txt", tmp_path / "maps"
    main(["track", str(video), "--box", "40,30,32,28", "--model", str(model_folder), "--output", str(out),
          "--results", str(results), "--attention-maps", str(maps), "--attention-every", "2"])
    printed = capsys.readouterr().out
    assert "tracked 6 frames" in printed and "FPS" in printed
    assert f"wrote {out} (annotated video); {results} (boxes" in printed and f"{maps}/ (2 attention-map PNG)" in printed
    boxes = read_results(results)
    assert boxes.shape == (6, 4) and np.allclose(boxes[0], [40, 30, 32, 28])
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    capture.release()
    pngs = sorted(p.name for p in maps.iterdir())
    assert pngs == ["frame_000002.png", "frame_000004.png"]  # frames 2, 4: every 2nd frame, before tracking it
    grid = cv2.imread(str(maps / pngs[0]))
    assert grid.shape == (128, 256, 3)  # 2 layers side by side, 128 px search crops


def test_cli_track_several_boxes_one_results_file_each(tmp_path, model_folder, capsys):
    video = tmp_path / "in.mp4"
    write_video(video)
    boxes = [[40, 30, 32, 28], [90, 60, 24, 20]]
    main(["track", str(video), "--box", "40,30,32,28", "--box", "90,60,24,20", "--model", str(model_folder),
          "--results", str(tmp_path / "boxes.txt")])
    assert "tracked 6 frames" in capsys.readouterr().out
    assert not (tmp_path / "boxes.txt").exists()
    tracker = SimTrackTracker.from_pretrained(model_folder)
    expected = np.stack([r.boxes for r in tracker.track_video(str(video), boxes)])  # (frames, targets, 4)
    for k in range(2):
        written = read_results(tmp_path / f"boxes_{k + 1}.txt")
        np.testing.assert_allclose(written, expected[:, k], atol=1e-3)
        assert np.allclose(written[0], boxes[k])


def test_cli_track_bad_box_and_missing_video(tmp_path, model_folder, capsys):
    with pytest.raises(SystemExit):
        main(["track", "x.mp4", "--box", "1,2,3"])
    assert "X,Y,W,H" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["track", str(tmp_path / "missing.mp4"), "--box", "1,2,3,4", "--model", str(model_folder)])
    assert info.value.code == 2 and "missing.mp4" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # the video is checked before the model loads
        main(["track", str(tmp_path / "missing.mp4"), "--box", "1,2,3,4", "--model", str(tmp_path / "no_model")])
    assert info.value.code == 2 and "video file or image folder not found" in capsys.readouterr().err


def test_cli_track_frame_range(tmp_path, model_folder, capsys):
    """--start-frame / --max-frames: the box is on the start frame; the files hold the tracked frames only."""
    video = tmp_path / "in.mp4"
    write_video(video, count=8)
    main(["track", str(video), "--box", "40,30,32,28", "--model", str(model_folder), "--start-frame", "2",
          "--max-frames", "4", "--results", str(tmp_path / "boxes.txt")])
    assert "tracked 4 frames" in capsys.readouterr().out
    tracker = SimTrackTracker.from_pretrained(model_folder)
    from simtrack_hf.io.frames import open_frames

    with open_frames(str(video)) as reader:
        clip = list(reader)[2:6]
    expected = np.stack([r.boxes[0] for r in tracker.track_video(clip, [40, 30, 32, 28])])
    np.testing.assert_allclose(read_results(tmp_path / "boxes.txt"), expected, atol=1e-3)
    with pytest.raises(SystemExit) as info:
        main(["track", str(video), "--box", "40,30,32,28", "--model", str(model_folder), "--start-frame", "8"])
    assert info.value.code == 2 and "start frame 8 is past the end of the video (8 frames)" in capsys.readouterr().err


def test_attention_maps_follow_the_definition():
    torch.manual_seed(0)
    model = SimTrackModel(tiny_config()).eval()
    tracker = SimTrackTracker(model)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    tracker.init(frame, [40, 30, 32, 28])
    maps, crops = attention_maps(tracker, frame)
    config = model.config
    assert maps.shape == (1, config.num_hidden_layers, config.search_grid, config.search_grid)
    assert crops.shape == (1, config.search_size, config.search_size, 3)
    assert np.isclose(maps.min(), 0) and np.isclose(maps.max(), 1)
    assert model.config._attn_implementation == "sdpa"  # the model is never switched to eager
    # Only template tokens covered by the target count: a relevance on one token selects its attention row.
    tz2 = config.template_grid**2
    attention = torch.rand(1, 2, 85, 85)  # 16 template + 1 cls + 64 search + 4 foveal tokens
    relevance = torch.zeros(1, tz2)
    relevance[0, 5] = 1
    single = target_attention_maps((attention,), relevance, config)[0, 0].flatten()
    row = attention[0].mean(0)[5, tz2 + 1 : tz2 + 1 + config.search_grid**2]
    assert torch.allclose(single, (row - row.min()) / (row.max() - row.min()))


def test_cli_demo_runs_end_to_end(tmp_path, model_folder, capsys):
    main(["demo", "--model", str(model_folder), "--output-dir", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    frames = len(example_clips()[0].ground_truth)
    assert "held-out real photographs" in printed and f"tracked {frames} frames" in printed
    assert "success AUC vs ground truth" in printed
    assert len(read_results(tmp_path / "out" / "demo_boxes.txt")) == frames
    assert (tmp_path / "out" / "demo_tracked.mp4").stat().st_size > 0


BASE_INSTALL = """
import sys
for name in ("datasets", "accelerate", "evaluate", "matplotlib", "gradio", "onnx", "onnxruntime", "onnxscript"):
    sys.modules[name] = None  # as if only the base dependencies were installed
from simtrack_cli import main
main(sys.argv[1:])
"""


def test_track_and_demo_run_on_a_base_install(tmp_path, model_folder):
    """No extras: `track` (with attention maps) and `demo` run, and import none of the optional packages."""
    clip = example_clips()[0]
    box = ",".join(str(v) for v in clip.box)
    for argv in (["track", str(clip.video), "--box", box, "--model", str(model_folder), "--results",
                  str(tmp_path / "boxes.txt"), "--attention-maps", str(tmp_path / "maps")],
                 ["demo", "--model", str(model_folder), "--output-dir", str(tmp_path / "demo")]):
        result = subprocess.run([sys.executable, "-c", BASE_INSTALL, *argv], capture_output=True, text=True,
                                timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Loading weights" not in result.stderr and "Loading weights" not in result.stdout
    assert (tmp_path / "boxes.txt").read_text().count("\n") == len(clip.ground_truth)
    assert (tmp_path / "demo" / "demo_boxes.txt").is_file()
