"""Benchmark runner: batched OPE vs single trackers, resume, result files, scoring, plots and the CLI."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from simtrack_hf import SimTrackImageProcessor, SimTrackModel
from simtrack_hf.data.synthetic import write_got10k_dataset
from simtrack_hf.evaluation import runner
from simtrack_hf.commands.evaluate import add_arguments as add_evaluate_arguments
from simtrack_hf.commands.evaluate import run as run_evaluate
from simtrack_hf.data.benchmarks import read_got10k, read_synthetic
from simtrack_hf.evaluation import (
    STATIC,
    evaluate_results,
    find_result_file,
    results_table,
    track_benchmark,
)
from simtrack_hf.inference.tracker import SimTrackTracker, track_many
from simtrack_hf.io.boxes import read_results, write_results
from simtrack_hf.io.frames import open_frames


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    config = tiny_config()
    SimTrackModel(config).save_pretrained(folder)
    SimTrackImageProcessor.from_model_config(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory) -> Path:
    """Synthetic benchmark; sequence 3 is shortened to 5 frames so the batch shrinks mid-run."""
    root = write_got10k_dataset(tmp_path_factory.mktemp("bench"), num_sequences=3, num_frames=8, size=(96, 128))
    short = root / "GOT-10k_Train_000003"
    for i in range(6, 9):
        (short / f"{i:08d}.jpg").unlink()
    for label in ("groundtruth.txt", "absence.label", "cover.label"):
        lines = (short / label).read_text().splitlines()[:5]
        (short / label).write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def sequences(bench_root):
    return read_synthetic(bench_root)


@pytest.fixture(scope="module")
def tracker(model_dir) -> SimTrackTracker:
    return SimTrackTracker.from_pretrained(model_dir)


def sequential_boxes(tracker: SimTrackTracker, seq) -> np.ndarray:
    fresh = SimTrackTracker(tracker.model, tracker.processor)
    return np.stack([r.boxes[0] for r in fresh.track_video(str(Path(seq.frames[0]).parent), seq.init_box)])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_batched_run_matches_single_trackers(tracker, sequences, tmp_path, k):
    runs = track_benchmark(tracker, sequences, tmp_path, batch_sequences=k, progress=False)
    assert list(runs) == [s.name for s in sequences]
    for seq in sequences:
        expected = sequential_boxes(tracker, seq)
        written = read_results(tmp_path / f"{seq.name}.txt", len(seq.frames))
        np.testing.assert_allclose(runs[seq.name].boxes, expected, atol=1e-3)
        np.testing.assert_allclose(written, expected, atol=1e-3)
        np.testing.assert_array_equal(written[0], seq.init_box)
        times = np.loadtxt(tmp_path / f"{seq.name}_time.txt")
        assert times.shape == (len(seq.frames),) and (times > 0).all()
        assert runs[seq.name].fps > 0 and not runs[seq.name].resumed
    line = (tmp_path / f"{sequences[0].name}.txt").read_text().splitlines()[1]
    assert len(line.split(",")) == 4 and all(len(v.split(".")[1]) == 4 for v in line.split(","))
    assert not list(tmp_path.glob(".*.tmp"))


def test_resume_skips_finished_sequences(model_dir, sequences, tmp_path, monkeypatch):
    track_benchmark(model_dir, sequences, tmp_path, batch_sequences=2, progress=False)
    reads = []
    original = runner._read_frame
    monkeypatch.setattr(runner, "_read_frame", lambda path: reads.append(path) or original(path))
    again = track_benchmark(model_dir, sequences, tmp_path, progress=False)
    assert reads == [] and all(r.resumed for r in again.values())

    first, second = sequences[0].name, sequences[1].name
    (tmp_path / f"{first}.txt").unlink()  # missing -> tracked again
    lines = (tmp_path / f"{second}.txt").read_text().splitlines()
    (tmp_path / f"{second}.txt").write_text("\n".join(lines[:3]) + "\n")  # truncated -> tracked again
    again = track_benchmark(model_dir, sequences, tmp_path, progress=False)
    assert len(reads) == len(sequences[0]) + len(sequences[1])
    assert [r.resumed for r in again.values()] == [False, False, True]
    assert len(read_results(tmp_path / f"{second}.txt")) == len(sequences[1])

    reads.clear()
    track_benchmark(model_dir, sequences[:1], tmp_path, resume=False, progress=False)
    assert len(reads) == len(sequences[0])


def test_static_baseline(sequences, tmp_path):
    runs = track_benchmark(STATIC, sequences, tmp_path, progress=False)
    for seq in sequences:
        boxes = read_results(tmp_path / f"{seq.name}.txt", len(seq.frames))
        np.testing.assert_allclose(boxes, np.repeat(seq.init_box[None], len(seq.frames), 0), atol=1e-4)
        assert runs[seq.name].times is None and not (tmp_path / f"{seq.name}_time.txt").exists()


def test_evaluate_results_table_and_result_file_names(sequences, tmp_path):
    gt_dir, got_dir = tmp_path / "perfect", tmp_path / "got_layout"
    for seq in sequences:
        write_results(gt_dir / f"{seq.name}_001.txt", seq.ground_truth)  # original SimTrack naming
        write_results(got_dir / seq.name / f"{seq.name}_001.txt", seq.ground_truth)
        (gt_dir / f"{seq.name}_time.txt").write_text("0.01\n" * len(seq.frames))
    track_benchmark(STATIC, sequences, tmp_path / "static", progress=False)
    assert find_result_file(gt_dir, sequences[0].name).name == f"{sequences[0].name}_001.txt"
    evaluations = evaluate_results(sequences, {"perfect": gt_dir, "got": got_dir, "static": tmp_path / "static"})
    perfect = evaluations["perfect"]
    assert perfect.scores.precision == pytest.approx(100.0) and perfect.fps == pytest.approx(100.0)
    assert evaluations["static"].scores.auc < perfect.scores.auc
    assert evaluations["got"].scores.auc == pytest.approx(perfect.scores.auc)
    assert np.isnan(evaluations["static"].fps)
    table = results_table(evaluations)
    assert table.splitlines()[0].startswith("| Tracker |") and "| perfect | 3 |" in table and "| - |" in table
    got10k = evaluate_results(sequences, {"perfect": gt_dir}, convention="got10k")["perfect"].scores
    assert got10k.convention == "got10k" and got10k.ao == pytest.approx(100.0)


def test_bad_result_files_give_clear_errors(sequences, tmp_path):
    seq = sequences[0]
    with pytest.raises(ValueError, match="results folder of 'x' not found"):
        evaluate_results(sequences, {"x": tmp_path / "missing"})
    for s in sequences[1:]:
        write_results(tmp_path / f"{s.name}.txt", s.ground_truth)
    with pytest.raises(ValueError, match=f"no results for sequence '{seq.name}'.*_001.txt"):
        evaluate_results(sequences, {"x": tmp_path})
    (tmp_path / f"{seq.name}.txt").write_text("1,2,3,4\n" * 3)
    with pytest.raises(ValueError, match="3 boxes, expected 8"):
        evaluate_results(sequences, {"x": tmp_path})
    (tmp_path / f"{seq.name}.txt").write_text("1,2,3\n" * 8)
    with pytest.raises(ValueError, match=r"line 1: expected 4 values"):
        evaluate_results(sequences, {"x": tmp_path})
    with pytest.raises(ValueError, match="unknown convention"):
        evaluate_results(sequences, {"x": tmp_path}, convention="vot")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    return parser.parse_args(argv)


def test_run_evaluate_renders_a_missing_synthetic_benchmark(model_dir, tmp_path, capsys):
    root = tmp_path / "synthetic_test"
    args = parse(["--dataset-format", "synthetic", "--root", str(root), "--model", str(model_dir),
                  "--synthetic-sequences", "2", "--synthetic-frames", "5", "--results-dir", str(tmp_path / "out"),
                  "--baseline", "static", "--device", "cpu", "--no-progress"])
    run_evaluate(args)
    printed = capsys.readouterr().out
    assert "rendered 2 held-out synthetic clips" in printed and "| simtrack | 2 |" in printed
    assert len(read_synthetic(root)) == 2 and (tmp_path / "out" / "success_plot.png").exists()


def test_run_evaluate_end_to_end(model_dir, bench_root, tmp_path, capsys):
    original = tmp_path / "original"
    for seq in read_synthetic(bench_root):
        write_results(original / f"{seq.name}_001.txt", np.trunc(seq.ground_truth))
    out = tmp_path / "out"
    args = parse(["--dataset-format", "synthetic", "--root", str(bench_root), "--model", str(model_dir),
                  "--results-dir", str(out), "--compare", f"original={original}", "--baseline", "static",
                  "--batch-sequences", "2", "--device", "cpu", "--max-sequences", "2", "--no-progress"])
    run_evaluate(args)
    printed = capsys.readouterr().out
    for name in ("simtrack", "static", "original"):
        assert f"| {name} | 2 |" in printed
    assert "pytracking convention" in printed
    assert (out / "results.md").read_text().count("\n| ") == 4  # separator + 3 trackers
    data = json.loads((out / "results.json").read_text())
    assert set(data["trackers"]) == {"simtrack", "static", "original"} and data["convention"] == "pytracking"
    assert data["trackers"]["simtrack"]["fps"] > 0 and data["trackers"]["static"]["fps"] is None
    for plot in ("success_plot.png", "precision_plot.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "simtrack").glob("*.txt"))[0].startswith("GOT-10k_Train_000001")
    assert len(list((out / "simtrack").glob("*_time.txt"))) == 2

    with pytest.raises(ValueError, match="names must differ"):
        run_evaluate(parse(["--dataset-format", "synthetic", "--root", str(bench_root), "--no-model",
                            "--compare", f"static={original}", "--baseline", "static"]))
    with pytest.raises(SystemExit):
        parse(["--dataset-format", "vot", "--root", "x"])


def test_got10k_test_split_writes_submission(model_dir, tmp_path, capsys):
    root = tmp_path / "GOT-10k"
    write_got10k_dataset(root, num_sequences=2, num_frames=4, size=(96, 128), split="test")
    out = tmp_path / "out"
    run_evaluate(parse(["--dataset-format", "got10k", "--split", "test", "--root", str(root), "--model",
                        str(model_dir), "--results-dir", str(out), "--device", "cpu", "--no-progress"]))
    assert "server submission" in capsys.readouterr().out
    with zipfile.ZipFile(out / "got10k_submission.zip") as zf:
        names = sorted(zf.namelist())
    seq = read_got10k(root, "test")[0].name
    assert f"{seq}/{seq}_001.txt" in names and f"{seq}/{seq}_time.txt" in names
    assert len(read_results(out / "got10k_submission" / seq / f"{seq}_001.txt")) == 4


def test_track_many_checks_inputs(tracker, sequences):
    frames = list(open_frames(str(Path(sequences[0].frames[0]).parent)))
    other = SimTrackTracker(SimTrackModel(tiny_config()))
    for t in (tracker, other):
        t.init(frames[0], sequences[0].init_box)
    with pytest.raises(ValueError, match="share one model"):
        track_many([tracker, other], frames[1:3])
    with pytest.raises(ValueError, match="one frame per session"):
        track_many([tracker], frames[1:3])
