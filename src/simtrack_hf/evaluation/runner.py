"""One-pass evaluation (OPE): track every sequence of a benchmark from its first box, resumably.

`track_benchmark` writes ``<seq>.txt`` (``x,y,w,h`` floats) and ``<seq>_time.txt`` (seconds per frame) per
sequence, atomically, and resumes where it stopped, only for the same dataset and tracker (``run.json``, one
writer at a time: `simtrack_hf.evaluation.provenance`). ``batch_sequences=K`` advances K videos per model forward
(`simtrack_hf.tracking_simtrack.track_videos`, the package's one tracking loop); classical baselines (`STATIC` keeps the first box; OpenCV's MIL,
KCF, CSRT) run through the same loop and files (`simtrack_hf.evaluation.baselines`). Scoring the
folders is `simtrack_hf.evaluation.scoring`; the command is `simtrack evaluate`.

Under `torchrun` / `accelerate launch` (``WORLD_SIZE`` > 1), `track_benchmark_sharded` gives every process a share
of the sequences (`shard_sequences`: longest first, balanced by frame count); each writes its own result files and
rank 0 gathers every run. Results do not depend on the number of processes (with ``batch_sequences=1`` they are
bit-identical; batches of several videos differ only by float rounding, as in one process).
"""

from __future__ import annotations

import datetime
import heapq
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.benchmarks import BenchmarkSequence
from ..io.boxes import read_results, write_results
from ..io.frames import read_image
from .baselines import BASELINES, STATIC, run_baseline
from .provenance import claim_results_dir, tracker_record
from .results import read_times, write_atomic

if TYPE_CHECKING:
    from ..inference.tracker import SimTrackTracker

__all__ = ["STATIC", "SequenceRun", "distributed_rank", "init_process_group", "shard_sequences", "track_benchmark",
           "track_benchmark_sharded"]



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


def _save_run(results_dir: Path, run: SequenceRun) -> None:
    if run.times is not None:  # first: a results file always comes with its times
        text = "".join(f"{t:.8f}\n" for t in run.times)
        write_atomic(results_dir / f"{run.name}_time.txt", lambda p: p.write_text(text))
    write_atomic(results_dir / f"{run.name}.txt", lambda p: write_results(p, run.boxes))


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
        times = read_times(time_path, len(boxes)) if time_path.is_file() else None
    except ValueError:
        times = None
    return SequenceRun(seq.name, boxes, times, resumed=True)


def track_benchmark(
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
    tracking_options: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
) -> dict[str, SequenceRun]:
    """Track every sequence one-pass from its first ground-truth box; write ``results_dir/<seq>.txt``
    (+ ``<seq>_time.txt``).

    Args:
        tracker_or_model_path: a `SimTrackTracker` (its model, processor, device and dtype are used), a
            ``save_pretrained`` folder / Hub repo (loaded with ``device`` / ``torch_dtype``), or the name of a
            classical baseline (`simtrack_hf.evaluation.baselines.BASELINES`: "static", "mil", "kcf", "csrt").
        sequences: from `read_benchmark` (test splits with only the first box work too).
        batch_sequences: K videos advanced per forward; finished ones leave the batch and the next start.
            Results match K=1 up to float rounding.
        resume: skip sequences whose results file already has one box per frame, when the folder's ``run.json``
            records this dataset and tracker (else ValueError naming the difference); False deletes the folder's
            results first (`simtrack_hf.evaluation.provenance.claim_results_dir`, which also locks the folder).
        num_workers: threads decoding and cropping frames.
        tracking_options: `TrackingOptions` fields over the model config's, for a model loaded here.
        dataset: what identifies the benchmark (JSON values), recorded in ``run.json``.

    Frame times: frame 0 is the initialisation (template crop and embedding); later frames share their
    step's crop + forward + post-processing time equally. Image decoding is not counted (as pytracking).
    Returns ``{name: SequenceRun}`` in the order of ``sequences``.
    """
    if batch_sequences < 1:
        raise ValueError(f"batch_sequences must be >= 1, got {batch_sequences}")
    results_dir = Path(results_dir)
    baseline = isinstance(tracker_or_model_path, str) and tracker_or_model_path in BASELINES
    if baseline:
        tracker, produced_by = tracker_or_model_path, {"baseline": tracker_or_model_path}
    else:
        tracker = _load_tracker(tracker_or_model_path, device, torch_dtype, tracking_options)
        produced_by = tracker_record(tracker)
    rank, world_size, _ = distributed_rank()
    runs: dict[str, SequenceRun] = {}
    with claim_results_dir(results_dir, {"dataset": dataset, "tracker": produced_by}, [s.name for s in sequences],
                           resume=resume, lock=rank == 0, clear_all=world_size == 1):
        todo = []
        for seq in sequences:
            done = _load_finished(results_dir, seq) if resume else None
            if done is not None:
                runs[seq.name] = done
            else:
                todo.append(seq)
        if baseline:
            for seq in todo:
                boxes, times = run_baseline(tracker, map(_read_frame, seq.frames), seq.init_box)
                runs[seq.name] = SequenceRun(seq.name, boxes, times)
                _save_run(results_dir, runs[seq.name])
        elif todo:
            runs.update(_track_sequences(tracker, todo, results_dir, batch_sequences, progress, num_workers))
    return {seq.name: runs[seq.name] for seq in sequences}


def _load_tracker(tracker: Any, device: Any, torch_dtype: Any, tracking_options: dict[str, Any] | None
                  ) -> SimTrackTracker:
    from ..inference.tracker import SimTrackTracker

    if not isinstance(tracker, SimTrackTracker):
        return SimTrackTracker.from_pretrained(tracker, device=device, torch_dtype=torch_dtype,
                                               tracking_options=tracking_options)
    if tracking_options:
        raise ValueError("tracking_options apply to a model loaded here; give them to the SimTrackTracker instead")
    return tracker


def shard_sequences(sequences: Sequence[BenchmarkSequence], num_shards: int) -> list[list[BenchmarkSequence]]:
    """Split `sequences` into `num_shards` lists of about equal frame counts: longest first, each to the shard with
    the fewest frames so far (ties: the lowest shard). Deterministic; each shard keeps longest-first order."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    shards: list[list[BenchmarkSequence]] = [[] for _ in range(num_shards)]
    loads = [(0, shard) for shard in range(num_shards)]
    for seq in sorted(sequences, key=lambda s: -len(s.frames)):  # stable: equal lengths keep benchmark order
        frames, shard = heapq.heappop(loads)
        shards[shard].append(seq)
        heapq.heappush(loads, (frames + len(seq.frames), shard))
    return shards


def distributed_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) of this process: from `torch.distributed` when initialised, else from the
    ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` variables set by torchrun and accelerate launch (0, 1, 0 alone)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def init_process_group(timeout: datetime.timedelta = datetime.timedelta(days=7)) -> None:
    """Join the launcher's process group (gloo: CPU tensors, any number of machines) unless already joined.
    `timeout` bounds every wait, e.g. rank 0 waiting for the slowest rank."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timeout)


def track_benchmark_sharded(
    tracker_or_model_path: SimTrackTracker | str | os.PathLike,
    sequences: Sequence[BenchmarkSequence],
    results_dir: str | os.PathLike,
    **kwargs: Any,
) -> dict[str, SequenceRun] | None:
    """`track_benchmark` over every process of a torchrun / accelerate launch; alone, `track_benchmark` itself.

    Each rank tracks its `shard_sequences` share (resumably) and writes its result files; rank 0 then gathers the
    runs of every rank (over a gloo process group, `init_process_group`, so no shared file system is needed), writes
    the files of the runs another machine tracked, and returns all runs in the order of `sequences`; the other ranks
    return None. `kwargs` go to `track_benchmark`.
    """
    import torch.distributed as dist

    rank, world_size, _ = distributed_rank()
    if world_size == 1:
        return track_benchmark(tracker_or_model_path, sequences, results_dir, **kwargs)
    init_process_group()
    runs = track_benchmark(tracker_or_model_path, shard_sequences(sequences, world_size)[rank], results_dir, **kwargs)
    gathered: list[dict[str, SequenceRun]] | None = [{} for _ in range(world_size)] if rank == 0 else None
    dist.gather_object(runs, gathered, dst=0)
    if rank != 0:
        return None
    merged = {name: run for part in gathered for name, run in part.items()}
    for run in merged.values():
        if not (Path(results_dir) / f"{run.name}.txt").is_file():
            _save_run(Path(results_dir), run)
    return {seq.name: merged[seq.name] for seq in sequences}


def _track_sequences(tracker, todo, results_dir, batch_sequences, progress, num_workers):
    from tqdm import tqdm

    from ..tracking_simtrack import track_videos

    boxes: list[list[np.ndarray]] = [[] for _ in todo]
    times: list[list[float]] = [[] for _ in todo]
    runs = {}
    bar = tqdm(total=sum(len(s.frames) for s in todo), unit="frame", desc=f"tracking {results_dir.name}",
               disable=not progress)
    with ThreadPoolExecutor(max(1, num_workers)) as pool, bar:
        # each sequence gets a fresh session on the same model, processor, device, dtype and options
        videos = ((tracker.new_session(), map(_read_frame, seq.frames), seq.init_box, seq.name) for seq in todo)
        for tracked in track_videos(videos, batch_size=batch_sequences, pool=pool):
            seq, k = todo[tracked.video], tracked.video
            boxes[k].append(tracked.result.boxes[0])
            times[k].append(tracked.seconds)
            bar.update(1)
            if len(boxes[k]) == len(seq.frames):
                runs[seq.name] = SequenceRun(seq.name, np.stack(boxes[k]), np.asarray(times[k]))
                _save_run(results_dir, runs[seq.name])
                bar.set_postfix_str(f"{seq.name} {runs[seq.name].fps:.1f} FPS", refresh=False)
    return runs
