"""Classical baselines (static box, OpenCV MIL / KCF / CSRT) in the one-pass evaluation."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from simtrack_hf.commands import main
from simtrack_hf.data.benchmarks import read_benchmark
from simtrack_hf.data.rendering import ensure_synthetic_benchmark
from simtrack_hf.data.synthetic import render_sequence
from simtrack_hf.evaluation.baselines import BASELINES, available_baselines, check_baselines, run_baseline
from simtrack_hf.evaluation.runner import track_benchmark


def test_static_and_mil_are_always_available():
    assert {"static", "mil"} <= set(available_baselines()) <= set(BASELINES)


def test_mil_follows_a_moving_target():
    seq = render_sequence(3, num_frames=20, occlusion_prob=0.0, num_distractors=0)
    boxes, times = run_baseline("mil", seq.frames, seq.boxes[0])
    assert boxes.shape == (20, 4) and times.shape == (20,) and (times > 0).all()
    assert np.array_equal(boxes[0], seq.boxes[0])
    centre = lambda b: b[:, :2] + b[:, 2:] / 2  # noqa: E731
    moved = np.linalg.norm(centre(seq.boxes)[-1] - centre(seq.boxes)[0])
    assert moved > 20  # the target moves, so a static box would be far off
    assert np.linalg.norm(centre(boxes)[-1] - centre(seq.boxes)[-1]) < moved / 2


def test_static_keeps_the_first_box():
    seq = render_sequence(4, num_frames=5)
    boxes, times = run_baseline("Static", seq.frames, seq.boxes[0])
    assert times is None and np.array_equal(boxes, np.repeat(seq.boxes[:1].astype(np.float64), 5, 0))


def test_unknown_and_missing_baselines_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown baseline 'siamfc'; known: static, mil, kcf, csrt"):
        check_baselines(["siamfc"])
    missing = [name for name in BASELINES if name not in available_baselines()]
    for name in missing:  # KCF / CSRT without the contrib build
        with pytest.raises(ValueError, match="opencv-contrib-python-headless in a separate environment"):
            check_baselines([name])


def test_evaluate_runs_baselines_beside_the_model(tmp_path, capsys):
    root = ensure_synthetic_benchmark(tmp_path / "bench", 2, 6, seed=5)
    out = tmp_path / "results"
    main(["evaluate", "--dataset-format", "synthetic", "--root", str(root), "--no-model", "--baseline",
          "static,mil", "--results-dir", str(out), "--no-progress"])
    table = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert {"static", "mil"} <= set(rows)
    assert rows["mil"].rstrip(" |").split("|")[-1].strip() != "-"  # MIL has an FPS, the static box none
    sequences = read_benchmark("synthetic", root)
    dataset = json.loads((out / "mil" / "run.json").read_text())["dataset"]  # resumed only on the same dataset
    runs = track_benchmark("mil", sequences, out / "mil", progress=False, dataset=dataset)
    assert all(run.resumed for run in runs.values())  # resumable like the model's runs


def test_evaluate_refuses_an_unknown_baseline(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--dataset-format", "synthetic", "--root", str(tmp_path), "--baseline", "static,foo"])
    assert exit_info.value.code == 2
    assert "unknown baseline 'foo'" in capsys.readouterr().err


def test_evaluate_and_track_take_tracking_options(tmp_path, capsys):
    import torch
    from conftest import tiny_config

    from simtrack_hf import SimTrackModel

    torch.manual_seed(0)
    SimTrackModel(tiny_config()).save_pretrained(tmp_path / "model")
    root = ensure_synthetic_benchmark(tmp_path / "bench", 1, 4, seed=5)
    out = tmp_path / "results"
    main(["evaluate", "--dataset-format", "synthetic", "--root", str(root), "--model", str(tmp_path / "model"),
          "--tracking-options", '{"lost_threshold": 1.0, "hold_lost_boxes": true}', "--results-dir", str(out),
          "--no-progress", "--device", "cpu"])
    boxes = read_benchmark("synthetic", root)[0].ground_truth[:1]
    held = np.loadtxt(out / "simtrack" / f"{read_benchmark('synthetic', root)[0].name}.txt", delimiter=",")
    assert np.allclose(held, np.repeat(boxes, 4, 0), atol=1e-3)  # every frame lost and held at the first box
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset-format", "synthetic", "--root", str(root), "--tracking-options", "[1]"])
    assert "expected a JSON object" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["track", os.path.dirname(read_benchmark("synthetic", root)[0].frames[0]), "--box", "1,2,3,4",
              "--tracking-options", '{"window": 1}'])
    assert "unknown tracking option" in capsys.readouterr().err


def test_paper_tracking_options_turn_every_option_off():
    from simtrack_hf.commands.common import parse_tracking_options
    from simtrack_hf.tracking_simtrack import TrackingOptions

    config = type("Config", (), {"tracking_options": {"max_scale_change": 1.05, "lost_threshold": 0.4}})()
    assert TrackingOptions.from_config(config, **parse_tracking_options("paper")) == TrackingOptions()
    assert TrackingOptions.from_config(config, **parse_tracking_options("{}")).max_scale_change == 1.05
