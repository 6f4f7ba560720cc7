"""One-pass evaluation (OPE) over a benchmark, scoring of result folders, and the `simtrack evaluate` command.

* `run_benchmark` tracks every sequence from its first ground-truth box and writes ``<seq>.txt`` (``x,y,w,h``
  floats) and ``<seq>_time.txt`` (seconds per frame) per sequence, atomically, and resumes where it stopped.
  ``batch_sequences=K`` advances K videos per model forward (`simtrack_hf.tracking.track_many`); ``"static"`` is a baseline
  that keeps the first box.
* `evaluate_results` scores any number of result folders (``<seq>.txt``, ``<seq>_001.txt`` or the GOT-10k
  ``<seq>/<seq>_001.txt`` layout, e.g. the original SimTrack raw results) and `results_table` prints them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..video import read_image
from .benchmarks import (
    BenchmarkSequence,
    read_benchmark,
    read_results,
    write_got10k_submission,
    write_results,
    write_trackingnet_submission,
)
from .metrics import CONVENTIONS, TrackingScores, aggregate_results, evaluate_sequence

if TYPE_CHECKING:
    from ..tracking import SimTrackTracker

__all__ = [
    "STATIC",
    "SequenceRun",
    "TrackerEvaluation",
    "run_benchmark",
    "find_result_file",
    "evaluate_results",
    "results_table",
    "add_evaluate_arguments",
    "run_evaluate",
]

STATIC = "static"
"""Baseline tracker name for `run_benchmark`: every frame keeps the first-frame box."""

DATASET_FORMATS = ("got10k", "lasot", "trackingnet", "otb", "uav123", "tnl2k", "synthetic")
_PYTRACKING_RULES = {"lasot": "lasot", "uav": "uav"}  # BenchmarkSequence.dataset -> evaluate_sequence(dataset=)


# ----------------------------------------------------------------------------- tracking
@dataclass
class SequenceRun:
    """Result of one sequence: ``boxes`` (N, 4) xywh, ``times`` (N,) seconds per frame or None (unknown /
    static baseline), ``resumed`` True when read back from an existing results file."""

    name: str
    boxes: np.ndarray
    times: np.ndarray | None
    resumed: bool = False

    @property
    def fps(self) -> float:
        """Frames per second (NaN when the times are unknown)."""
        if self.times is None or self.times.sum() <= 0:
            return float("nan")
        return float(len(self.times) / self.times.sum())


def _read_frame(path: str) -> np.ndarray:
    return read_image(Path(path))


def _write_atomic(path: Path, write) -> None:
    """``write(tmp_path)`` then rename over ``path``: a killed run never leaves a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_run(results_dir: Path, run: SequenceRun) -> None:
    if run.times is not None:  # first: a results file always comes with its times
        text = "".join(f"{t:.8f}\n" for t in run.times)
        _write_atomic(results_dir / f"{run.name}_time.txt", lambda p: p.write_text(text))
    _write_atomic(results_dir / f"{run.name}.txt", lambda p: write_results(p, run.boxes))


def _read_times(path: Path, num_frames: int | None = None) -> np.ndarray:
    try:
        times = np.array([float(v) for v in path.read_text().split()], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: expected one number (seconds) per line") from None
    if num_frames is not None and len(times) != num_frames:
        raise ValueError(f"{path}: {len(times)} times for {num_frames} frames")
    return times


def _load_finished(results_dir: Path, seq: BenchmarkSequence) -> SequenceRun | None:
    """The existing run of ``seq`` when its results file is complete (one box per frame), else None."""
    path = results_dir / f"{seq.name}.txt"
    if not path.is_file():
        return None
    try:
        boxes = read_results(path, len(seq.frames))
    except ValueError:
        return None  # truncated or corrupt: track again
    time_path = results_dir / f"{seq.name}_time.txt"
    try:
        times = _read_times(time_path, len(boxes)) if time_path.is_file() else None
    except ValueError:
        times = None
    return SequenceRun(seq.name, boxes, times, resumed=True)


def run_benchmark(
    tracker_or_model_path: SimTrackTracker | str | os.PathLike,
    sequences: Sequence[BenchmarkSequence],
    results_dir: str | os.PathLike,
    *,
    batch_sequences: int = 8,
    resume: bool = True,
    progress: bool = True,
    device: Any = None,
    torch_dtype: Any = None,
    num_workers: int = 4,
) -> dict[str, SequenceRun]:
    """Track every sequence one-pass from its first ground-truth box; write ``results_dir/<seq>.txt``
    (+ ``<seq>_time.txt``).

    Args:
        tracker_or_model_path: a `SimTrackTracker` (its model, processor, device and dtype are used), a
            ``save_pretrained`` folder / Hub repo (loaded with ``device`` / ``torch_dtype``), or `STATIC`.
        sequences: from `read_benchmark` (test splits with only the first box work too).
        batch_sequences: K videos advanced per forward; finished ones leave the batch and the next start.
            Results match K=1 up to float rounding.
        resume: skip sequences whose results file already has one box per frame.
        num_workers: threads decoding and cropping frames.

    Frame times: frame 0 is the initialisation (template crop and embedding); later frames share their
    step's crop + forward + post-processing time equally. Image decoding is not counted (as pytracking).
    Returns ``{name: SequenceRun}`` in the order of ``sequences``.
    """
    if batch_sequences < 1:
        raise ValueError(f"batch_sequences must be >= 1, got {batch_sequences}")
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, SequenceRun] = {}
    todo = []
    for seq in sequences:
        done = _load_finished(results_dir, seq) if resume else None
        if done is not None:
            runs[seq.name] = done
        else:
            todo.append(seq)
    if isinstance(tracker_or_model_path, str) and tracker_or_model_path == STATIC:
        for seq in todo:
            runs[seq.name] = SequenceRun(seq.name, np.repeat(seq.init_box[None], len(seq.frames), axis=0), None)
            _save_run(results_dir, runs[seq.name])
    elif todo:
        runs.update(_track_sequences(tracker_or_model_path, todo, results_dir, batch_sequences, progress,
                                     device, torch_dtype, num_workers))
    return {seq.name: runs[seq.name] for seq in sequences}


class _Slot:
    """One sequence in flight: its tracker and the boxes / times so far."""

    def __init__(self, seq: BenchmarkSequence, tracker: SimTrackTracker) -> None:
        self.seq, self.tracker = seq, tracker
        self.boxes: list[np.ndarray] = []
        self.times: list[float] = []

    @property
    def next_frame(self) -> str:
        return self.seq.frames[len(self.boxes)]

    @property
    def done(self) -> bool:
        return len(self.boxes) == len(self.seq.frames)

    def run(self) -> SequenceRun:
        return SequenceRun(self.seq.name, np.stack(self.boxes), np.asarray(self.times))


def _track_sequences(tracker, todo, results_dir, batch_sequences, progress, device, torch_dtype, num_workers):
    from tqdm import tqdm

    from ..tracking import SimTrackTracker, track_many

    if not isinstance(tracker, SimTrackTracker):
        tracker = SimTrackTracker.from_pretrained(tracker, device=device, torch_dtype=torch_dtype)
    pending, active, runs = deque(todo), [], {}
    bar = tqdm(total=sum(len(s.frames) for s in todo), unit="frame", desc=f"tracking {results_dir.name}",
               disable=not progress)
    with ThreadPoolExecutor(max(1, num_workers)) as pool, bar:
        while pending or active:
            while pending and len(active) < batch_sequences:  # start sequences: frame 0 = init
                seq = pending.popleft()
                slot = _Slot(seq, SimTrackTracker(tracker.model, tracker.processor, tracker.device, tracker.dtype))
                frame = _read_frame(seq.frames[0])
                started = time.perf_counter()
                try:
                    result = slot.tracker.init(frame, seq.init_box)
                except ValueError as error:
                    raise ValueError(f"sequence {seq.name!r}: {error}") from error
                slot.times.append(time.perf_counter() - started)
                slot.boxes.append(result.boxes[0])
                active.append(slot)
                bar.update(1)
            stepping = [s for s in active if not s.done]
            if stepping:
                frames = list(pool.map(_read_frame, [s.next_frame for s in stepping]))
                started = time.perf_counter()
                try:
                    results = track_many([s.tracker for s in stepping], frames, pool)
                except ValueError as error:
                    names = ", ".join(repr(s.seq.name) for s in stepping)
                    raise ValueError(f"tracking sequences {names}: {error}") from error
                share = (time.perf_counter() - started) / len(stepping)
                for slot, result in zip(stepping, results):
                    slot.boxes.append(result.boxes[0])
                    slot.times.append(share)
                bar.update(len(stepping))
            for slot in [s for s in active if s.done]:
                runs[slot.seq.name] = slot.run()
                _save_run(results_dir, runs[slot.seq.name])
                bar.set_postfix_str(f"{slot.seq.name} {runs[slot.seq.name].fps:.1f} FPS", refresh=False)
            active = [s for s in active if not s.done]
    return runs


# ----------------------------------------------------------------------------- scoring
def find_result_file(results_dir: str | os.PathLike, name: str) -> Path:
    """The results file of sequence ``name``: ``<name>.txt``, ``<name>_001.txt`` or ``<name>/<name>_001.txt``."""
    results_dir = Path(results_dir)
    candidates = [results_dir / f"{name}.txt", results_dir / f"{name}_001.txt", results_dir / name / f"{name}_001.txt"]
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p.relative_to(results_dir)) for p in candidates)
    raise ValueError(f"no results for sequence {name!r} in {results_dir} (looked for {tried})")


@dataclass
class TrackerEvaluation:
    """Scores of one result folder; ``fps`` is frames / total seconds over sequences with time files
    (NaN when none has one)."""

    name: str
    results_dir: Path
    scores: TrackingScores
    fps: float

    def to_dict(self) -> dict[str, Any]:
        s = self.scores
        return {
            **s.to_dict(),
            "fps": None if math.isnan(self.fps) else self.fps,
            "num_sequences": s.num_sequences,
            "num_frames": s.num_frames,
            "results_dir": str(self.results_dir),
            "per_sequence": {r.name: {"auc": r.auc, "precision": r.precision, "norm_precision": r.norm_precision,
                                      "ao": r.ao * 100.0} for r in s.per_sequence},
            "curves": {
                "overlap_thresholds": s.overlap_thresholds.tolist(),
                "success": s.success_curve.tolist(),
                "precision": s.precision_curve.tolist(),
                "norm_precision": s.norm_precision_curve.tolist(),
            },
        }


def _image_size(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size  # (W, H), header only


def evaluate_results(
    sequences: Sequence[BenchmarkSequence],
    results_dirs: Mapping[str, str | os.PathLike],
    convention: str = "pytracking",
) -> dict[str, TrackerEvaluation]:
    """Score each result folder ``{tracker name: folder}`` on ``sequences`` (fully annotated ones only).

    Files per sequence: see `find_result_file`; they must hold one box per ground-truth frame. Times come
    from ``<seq>_time.txt`` beside them when present. Print the outcome with `results_table`.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {CONVENTIONS}")
    if not sequences:
        raise ValueError("no sequences to evaluate")
    partial = [s.name for s in sequences if not s.fully_annotated]
    if partial:
        raise ValueError(f"sequence {partial[0]!r} has only first-frame ground truth (a test split): "
                         "it is scored by the benchmark server, not locally")
    sizes = [_image_size(s.frames[0]) if convention == "got10k" else None for s in sequences]
    evaluations = {}
    for tracker, folder in results_dirs.items():
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"results folder of {tracker!r} not found: {folder}")
        per_sequence, seconds, frames = [], 0.0, 0
        for seq, size in zip(sequences, sizes):
            path = find_result_file(folder, seq.name)
            pred = read_results(path, len(seq.ground_truth))
            time_path = path.with_name(f"{seq.name}_time.txt")
            if time_path.is_file():
                times = _read_times(time_path)
                seconds, frames = seconds + float(times.sum()), frames + len(times)
            per_sequence.append(evaluate_sequence(
                pred, seq.ground_truth, seq.visible, convention=convention, name=seq.name,
                dataset=_PYTRACKING_RULES.get(seq.dataset), image_size=size,
            ))
        fps = frames / seconds if seconds > 0 else float("nan")
        evaluations[tracker] = TrackerEvaluation(tracker, folder, aggregate_results(per_sequence), fps)
    return evaluations


def results_table(evaluations: Mapping[str, TrackerEvaluation]) -> str:
    """Markdown table: one row per tracker; scores in percent."""
    lines = [
        "| Tracker | Sequences | Frames | AUC | P@20 | NP@0.20 | AO | SR50 | SR75 | FPS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ev in evaluations.items():
        s = ev.scores
        fps = "-" if not math.isfinite(ev.fps) else f"{ev.fps:.1f}"
        values = " | ".join(f"{v:.2f}" for v in (s.auc, s.precision, s.norm_precision, s.ao, s.sr50, s.sr75))
        lines.append(f"| {name} | {s.num_sequences} | {s.num_frames} | {values} | {fps} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- command line
def _compare_arg(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep:
        name, folder = Path(text).name, text
    if not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, folder


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``simtrack evaluate`` options."""
    parser.add_argument("--dataset-format", required=True, choices=DATASET_FORMATS, help="benchmark layout")
    parser.add_argument("--root", required=True, help="benchmark folder (see simtrack_hf.evaluation.benchmarks)")
    parser.add_argument("--split", default="val", choices=["val", "test"],
                        help="GOT-10k split (default val); test writes a submission instead of scores")
    parser.add_argument("--synthetic-sequences", type=int, default=12, metavar="N",
                        help="synthetic format only: when --root does not exist, render N held-out clips there")
    parser.add_argument("--synthetic-frames", type=int, default=120, metavar="N", help="frames per generated clip")
    parser.add_argument("--model", default=None, help="save_pretrained folder or Hub repo (default: demo model)")
    parser.add_argument("--name", default="simtrack", help="name of the model's results (folder and table row)")
    parser.add_argument("--no-model", action="store_true", help="do not run the model: score --compare/--baseline")
    parser.add_argument("--results-dir", default=None,
                        help="output folder (default results/<benchmark>): <name>/<seq>.txt, results.md/.json, plots")
    parser.add_argument("--compare", action="append", default=[], type=_compare_arg, metavar="NAME=DIR",
                        help="also score this result folder (<seq>.txt or <seq>_001.txt files); repeatable")
    parser.add_argument("--baseline", choices=[STATIC], default=None,
                        help="add a baseline: 'static' keeps the first-frame box")
    parser.add_argument("--convention", choices=CONVENTIONS, default=None,
                        help="metrics convention (default: got10k for GOT-10k, else pytracking)")
    parser.add_argument("--batch-sequences", type=int, default=8, metavar="K", help="videos per model forward")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--max-sequences", type=int, default=None, metavar="N", help="only the first N sequences")
    parser.add_argument("--no-resume", action="store_true", help="track again even where results exist")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_evaluate(args: argparse.Namespace) -> None:
    """Track (resumable), score, print the table; write results.md / results.json and the plots, or the
    server submission for GOT-10k test / TrackingNet."""
    from .plots import save_comparison_plots

    if args.max_sequences is not None and args.max_sequences < 1:
        raise ValueError(f"--max-sequences must be >= 1, got {args.max_sequences}")
    benchmark = f"got10k_{args.split}" if args.dataset_format == "got10k" else args.dataset_format
    root = Path(args.root)
    if benchmark == "synthetic" and not root.exists():
        from ..data.synthetic import write_got10k_dataset

        # Seeds (1000, i): held out from training (make_demo_model.py trains on seeds (0, i)).
        write_got10k_dataset(root.parent, args.synthetic_sequences, args.synthetic_frames, seed=1000, split=root.name)
        print(f"rendered {args.synthetic_sequences} held-out synthetic clips of {args.synthetic_frames} frames in {root}")
    sequences = read_benchmark(benchmark, args.root)[: args.max_sequences]
    out = Path(args.results_dir or Path("results") / benchmark)
    compare = dict(args.compare)
    names = ([] if args.no_model else [args.name]) + ([args.baseline] if args.baseline else []) + list(compare)
    if len(set(names)) != len(names):
        raise ValueError(f"tracker names must differ, got {names}")
    if not names:
        raise ValueError("nothing to evaluate: drop --no-model, or give --compare / --baseline")
    dirs: dict[str, Path] = {}
    runs = None
    if not args.no_model:
        import torch

        from ..cli import DEFAULT_MODEL

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dirs[args.name] = out / args.name
        runs = run_benchmark(args.model or DEFAULT_MODEL, sequences, dirs[args.name],
                             batch_sequences=args.batch_sequences, resume=not args.no_resume,
                             progress=not args.no_progress, device=device, torch_dtype=getattr(torch, args.dtype))
    if args.baseline:
        dirs[args.baseline] = out / args.baseline
        run_benchmark(STATIC, sequences, dirs[args.baseline], resume=not args.no_resume)
    dirs.update({name: Path(folder) for name, folder in compare.items()})

    if not all(s.fully_annotated for s in sequences):  # test split: the server scores it
        if runs is None:
            raise ValueError(f"{benchmark} has first-frame ground truth only: run the model to write a submission")
        boxes = {name: run.boxes for name, run in runs.items()}
        if benchmark == "trackingnet":
            path = write_trackingnet_submission(out / "trackingnet_submission.zip", boxes)
        else:
            times = {name: run.times if run.times is not None else np.zeros(len(run.boxes)) for name, run in runs.items()}
            write_got10k_submission(out / "got10k_submission", boxes, times, zip_path=out / "got10k_submission.zip")
            path = out / "got10k_submission.zip"
        print(f"{benchmark} has first-frame ground truth only: wrote the server submission {path}"
              + (" (--compare / --baseline folders are not scored)" if len(dirs) > 1 else ""))
        return

    convention = args.convention or ("got10k" if args.dataset_format == "got10k" else "pytracking")
    evaluations = evaluate_results(sequences, dirs, convention)
    table = results_table(evaluations)
    header = f"{benchmark}: {len(sequences)} sequences, {convention} convention (scores in %)\n\n"
    print(header + table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(f"# {header}{table}")
    (out / "results.json").write_text(json.dumps({
        "benchmark": benchmark, "root": str(args.root), "convention": convention,
        "trackers": {name: ev.to_dict() for name, ev in evaluations.items()},
    }, indent=2))
    plots = save_comparison_plots({n: ev.scores for n, ev in evaluations.items()}, out, title=benchmark)
    print(f"wrote {out / 'results.md'}, {out / 'results.json'}, {plots[0].name} and {plots[1].name} in {out}")
