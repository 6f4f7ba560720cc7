"""The evaluation entry: `evaluate_benchmark` tracks a benchmark one-pass (resumably, sharded over the processes of
a torchrun / accelerate launch), runs the classical baselines, scores the result folders and writes the table,
``results.json`` and plots, or the server submission of a split without ground truth. The command is
`simtrack evaluate`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..loading import DEFAULT_MODEL

__all__ = ["DATASET_FORMATS", "evaluate_benchmark"]

DATASET_FORMATS = ("got10k", "lasot", "trackingnet", "otb", "uav123", "tnl2k", "synthetic", "photos")
"""Benchmark layouts `evaluate_benchmark` reads (`simtrack_hf.data.benchmarks`); ``synthetic`` and ``photos`` are
rendered at ``root`` when it does not exist."""


def evaluate_benchmark(
    dataset_format: str,
    root: str | os.PathLike,
    *,
    split: str = "val",
    model: str | os.PathLike = DEFAULT_MODEL,
    name: str = "simtrack",
    run_model: bool = True,
    tracking_options: dict[str, Any] | None = None,
    results_dir: str | os.PathLike | None = None,
    compare: Mapping[str, str | os.PathLike] | None = None,
    baselines: Sequence[str] = (),
    convention: str | None = None,
    batch_sequences: int = 8,
    device: str | None = None,
    dtype: str = "float32",
    max_sequences: int | None = None,
    resume: bool = True,
    progress: bool = True,
    synthetic_sequences: int = 12,
    synthetic_frames: int = 120,
    photos: str | os.PathLike | None = None,
) -> dict[str, Any] | None:
    """Track (resumable), score, print the table; write results.md / results.json and the plots, or the
    server submission for GOT-10k test / TrackingNet. Returns {tracker: `TrackerEvaluation`}
    (`simtrack_hf.evaluation.scoring.evaluate_results`), or None for a submission and on ranks > 0.

    Args:
        dataset_format: one of `DATASET_FORMATS`; ``root`` is the benchmark folder (``split`` picks GOT-10k's).
        model: save_pretrained folder or Hub repo, tracked as ``name`` (a plain folder name under the results);
            ``run_model=False`` only scores ``compare`` folders ({name: folder}) and runs ``baselines``.
        results_dir: output folder (default ``results/<benchmark>``).
        convention: metrics convention (default: got10k for GOT-10k, else pytracking).
        synthetic_sequences, synthetic_frames, photos: what is rendered at a missing ``root`` (synthetic / photos).
    The other arguments go to `simtrack_hf.evaluation.runner.track_benchmark`.
    """
    import matplotlib  # noqa: F401  (the plots need the [eval] extra: fail before tracking, not after)

    from ..data.benchmarks import read_benchmark
    from .plots import save_comparison_plots
    from .results import write_got10k_submission, write_trackingnet_submission
    from .runner import distributed_rank, init_process_group, track_benchmark, track_benchmark_sharded
    from .scoring import evaluate_results, results_table

    if max_sequences is not None and max_sequences < 1:
        raise ValueError(f"--max-sequences must be >= 1, got {max_sequences}")
    benchmark = f"got10k_{split}" if dataset_format == "got10k" else dataset_format
    root_dir = Path(root)
    rank, world_size, local_rank = distributed_rank()
    if world_size > 1 and not run_model:
        raise ValueError("--no-model only scores result folders: run it in one process, not under a launcher")
    if world_size > 1:
        import torch.distributed as dist

        init_process_group()
    if benchmark == "synthetic" and not root_dir.exists() and rank == 0:
        from ..data.rendering import ensure_synthetic_benchmark

        # Seeds (1000, i): held out from training (make_demo_model.py trains on seeds (0, i)). Rendered atomically:
        # an interrupted run leaves no --root behind, so a later run renders again instead of scoring a part.
        ensure_synthetic_benchmark(root_dir, synthetic_sequences, synthetic_frames, seed=1000)
        print(f"rendered {synthetic_sequences} held-out synthetic clips of {synthetic_frames} frames in {root_dir}")
    if benchmark == "photos" and not root_dir.exists() and rank == 0:
        from ..data.photos import default_photo_dir
        from ..data.rendering import ensure_photo_benchmark

        photos = photos or default_photo_dir() / "heldout"
        ensure_photo_benchmark(root_dir, photos, synthetic_sequences, synthetic_frames)
        print(f"rendered {synthetic_sequences} clips of {synthetic_frames} frames from the photos of "
              f"{photos} in {root_dir}")
    if world_size > 1:  # the other ranks read the benchmark once rank 0 has rendered it
        dist.barrier()
    sequences = read_benchmark(benchmark, root)[:max_sequences]
    out = Path(results_dir or Path("results") / benchmark)
    compare = dict(compare or {})
    names = ([name] if run_model else []) + list(baselines) + list(compare)
    if len(set(names)) != len(names):
        raise ValueError(f"tracker names must differ, got {names}")
    if not names:
        raise ValueError("nothing to evaluate: drop --no-model, or give --compare / --baseline")
    dirs: dict[str, Path] = {}
    runs = None
    if run_model:
        import torch

        device = device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
        dirs[name] = out / name
        runs = track_benchmark_sharded(model, sequences, dirs[name],
                                       batch_sequences=batch_sequences, resume=resume,
                                       progress=progress and rank == 0, device=device,
                                       torch_dtype=dtype, tracking_options=tracking_options)
        if world_size > 1:
            dist.destroy_process_group()
        if rank != 0:  # rank 0 has gathered this rank's runs: it scores, plots and writes the tables
            return None
    for baseline in baselines:
        dirs[baseline] = out / baseline
        track_benchmark(baseline, sequences, dirs[baseline], resume=resume)
    dirs.update({key: Path(folder) for key, folder in compare.items()})

    if not all(s.fully_annotated for s in sequences):  # test split: the server scores it
        if runs is None:
            raise ValueError(f"{benchmark} has first-frame ground truth only: run the model to write a submission")
        boxes = {key: run.boxes for key, run in runs.items()}
        if benchmark == "trackingnet":
            path = write_trackingnet_submission(out / "trackingnet_submission.zip", boxes)
        else:
            times = {key: run.times if run.times is not None else np.zeros(len(run.boxes)) for key, run in runs.items()}
            write_got10k_submission(out / "got10k_submission", boxes, times, zip_path=out / "got10k_submission.zip")
            path = out / "got10k_submission.zip"
        print(f"{benchmark} has first-frame ground truth only: wrote the server submission {path}"
              + (" (--compare / --baseline folders are not scored)" if len(dirs) > 1 else ""))
        return None

    convention = convention or ("got10k" if dataset_format == "got10k" else "pytracking")
    evaluations = evaluate_results(sequences, dirs, convention)
    table = results_table(evaluations)
    header = f"{benchmark}: {len(sequences)} sequences, {convention} convention (scores in %)\n\n"
    print(header + table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(f"# {header}{table}")
    (out / "results.json").write_text(json.dumps({
        "benchmark": benchmark, "root": str(root), "convention": convention,
        "trackers": {key: ev.to_dict() for key, ev in evaluations.items()},
    }, indent=2))
    plots = save_comparison_plots({key: ev.scores for key, ev in evaluations.items()}, out, title=benchmark)
    print(f"wrote {out / 'results.md'}, {out / 'results.json'}, {plots[0].name} and {plots[1].name} in {out}")
    return evaluations
