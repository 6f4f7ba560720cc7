"""Scoring result folders against a benchmark's ground truth, and the markdown table of the scores.

`evaluate_results` scores any number of result folders (``<seq>.txt``, ``<seq>_001.txt`` or the GOT-10k
``<seq>/<seq>_001.txt`` layout, e.g. the original SimTrack raw results); `results_table` prints them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.benchmarks import BenchmarkSequence
from ..io.boxes import read_results
from ..io.frames import image_size
from .metrics import CONVENTIONS, TrackingScores, aggregate_results, evaluate_sequence
from .results import find_result_file, read_times

__all__ = ["TrackerEvaluation", "evaluate_results", "results_table"]

_PYTRACKING_RULES = {"lasot": "lasot", "uav": "uav"}  # BenchmarkSequence.dataset -> evaluate_sequence(dataset=)


@dataclass
class TrackerEvaluation:
    """Scores of one result folder; ``fps`` is frames / total seconds over sequences with time files
    (NaN when none has one)."""

    name: str
    results_dir: Path
    scores: TrackingScores
    fps: float

    def to_dict(self) -> dict[str, Any]:
        """Scores, per-sequence scores and curves as JSON values: a score that does not exist (no frame to
        average, e.g. AO when no frame after the first is visible; no time files for fps) is None, never NaN."""
        s = self.scores
        return _finite_or_none({
            **s.to_dict(),
            "fps": self.fps,
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
        })


def _finite_or_none(value: Any) -> Any:
    """`value` with every NaN / inf float (in dicts and lists) replaced by None."""
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    short = [s.name for s in sequences if len(s.ground_truth) < 2]
    if short:
        raise ValueError(f"{len(short)} sequence(s) too short to score, e.g. {short[0]!r}: one frame holds only the "
                         "given first box (a sequence needs 2 frames or more)")
    sizes = [image_size(s.frames[0]) if convention == "got10k" else None for s in sequences]
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
                times = read_times(time_path)
                seconds, frames = seconds + float(times.sum()), frames + len(times)
            per_sequence.append(evaluate_sequence(
                pred, seq.ground_truth, seq.visible, convention=convention, name=seq.name,
                dataset=_PYTRACKING_RULES.get(seq.dataset), image_size=size,
            ))
        fps = frames / seconds if seconds > 0 else float("nan")
        evaluations[tracker] = TrackerEvaluation(tracker, folder, aggregate_results(per_sequence), fps)
    return evaluations


def results_table(evaluations: Mapping[str, TrackerEvaluation]) -> str:
    """Markdown table: one row per tracker; scores in percent ("-" where a score does not exist)."""
    lines = [
        "| Tracker | Sequences | Frames | AUC | P@20 | NP@0.20 | AO | SR50 | SR75 | FPS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ev in evaluations.items():
        s = ev.scores
        fps = "-" if not math.isfinite(ev.fps) else f"{ev.fps:.1f}"
        values = " | ".join(f"{v:.2f}" if math.isfinite(v) else "-"
                            for v in (s.auc, s.precision, s.norm_precision, s.ao, s.sr50, s.sr75))
        lines.append(f"| {name} | {s.num_sequences} | {s.num_frames} | {values} | {fps} |")
    return "\n".join(lines) + "\n"
