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
    compare: Mapping[str, str | os.PathLike] | Sequence[tuple[str, str | os.PathLike]] | None = None,
    baselines: Sequence[str] = (),
    convention: str | None = None,
    batch_sequences: int = 8,
    device: str | None = None,
    dtype: str = "float32",
    max_sequences: int | None = None,
    resume: bool = True,
    progress: bool = True,
    synthetic_sequences: int | None = None,
    synthetic_frames: int | None = None,
    photos: str | os.PathLike | None = None,
) -> dict[str, Any] | None:
    """Track (resumable), score, print the table; write results.md / results.json and the plots, or the
    server submission for GOT-10k test / TrackingNet. Returns {tracker: `TrackerEvaluation`}
    (`simtrack_hf.evaluation.scoring.evaluate_results`), or None for a submission and on ranks > 0.

    Args:
        dataset_format: one of `DATASET_FORMATS`; ``root`` is the benchmark folder (``split`` picks GOT-10k's).
        model: save_pretrained folder or Hub repo, tracked as ``name`` (a plain folder name under the results);
            ``run_model=False`` only scores ``compare`` folders ({name: folder} or (name, folder) pairs; names
            must differ from each other and from the trackers run here) and runs ``baselines``.
        results_dir: output folder (default ``results/<benchmark>``); never an input (the benchmark, the model,
            a ``compare`` folder) nor inside one. Earlier runs on this dataset in its sub-folders (their
            ``run.json`` says so) join the table.
        convention: metrics convention (default: got10k for GOT-10k, else pytracking).
        synthetic_sequences, synthetic_frames, photos: what is rendered at a missing ``root`` (synthetic / photos;
            default 12 clips of 120 frames); given, a ``root`` this package rendered with other counts is rendered
            again with them (its seed kept); not given, a rendered ``root`` is taken as it is.
    The other arguments go to `simtrack_hf.evaluation.runner.track_benchmark`.
    """
    import matplotlib  # noqa: F401  (the plots need the [eval] extra: fail before tracking, not after)

    from ..data.benchmarks import read_benchmark
    from ..io.paths import check_outputs
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
    out = Path(results_dir or Path("results") / benchmark)
    pairs = list(compare.items() if isinstance(compare, Mapping) else compare or ())
    names = ([name] if run_model else []) + list(baselines) + [key for key, _ in pairs]
    if len(set(names)) != len(names):
        twice = next(key for key in names if names.count(key) > 1)
        raise ValueError(f"tracker names must differ: {twice!r} names two result folders (of {names})")
    if not names:
        raise ValueError("nothing to evaluate: drop --no-model, or give --compare / --baseline")
    compare = dict(pairs)
    tracked_here = names[: len(names) - len(pairs)]  # the model and the baselines
    check_outputs({"benchmark root": root, "model": model if run_model else None,
                   **{f"--compare {key}": folder for key, folder in pairs}},
                  {"results folder": out, **{f"results of {key}": out / key for key in tracked_here}})
    marker = root_dir / ".complete"  # a generated benchmark's parameters
    rendered = json.loads(marker.read_text()) if marker.is_file() else {}
    asked = {"num_sequences": synthetic_sequences, "num_frames": synthetic_frames}
    stale = rendered and any(value is not None and rendered.get(key) != value for key, value in asked.items())
    if dataset_format in ("synthetic", "photos") and (stale or not root_dir.exists()) and rank == 0:
        from ..data.rendering import ensure_photo_benchmark, ensure_synthetic_benchmark

        count = synthetic_sequences or rendered.get("num_sequences", 12)
        frames = synthetic_frames or rendered.get("num_frames", 120)
        if benchmark == "synthetic":
            # Seeds (1000, i): held out from training (make_demo_model.py trains on seeds (0, i)). Rendered
            # atomically: an interrupted run leaves no --root behind, so a later run renders again.
            ensure_synthetic_benchmark(root_dir, count, frames, seed=rendered.get("seed", 1000))
            source = "held-out synthetic clips"
        else:
            from ..data.photos import default_photo_dir

            photos = photos or default_photo_dir() / "heldout"
            ensure_photo_benchmark(root_dir, photos, count, frames)
            source = f"clips from the photos of {photos}"
        again = " (it held clips rendered with other counts)" if stale else ""
        print(f"rendered {count} {source} of {frames} frames in {root_dir}{again}")
    if world_size > 1:  # the other ranks read the benchmark once rank 0 has rendered it
        dist.barrier()
    sequences = read_benchmark(benchmark, root)[:max_sequences]
    dataset = {"benchmark": benchmark, "root": os.path.realpath(root),
               "rendered": json.loads(marker.read_text()) if marker.is_file() else None}
    dirs: dict[str, Path] = {}
    runs = None
    if run_model:
        import torch

        device = device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
        dirs[name] = out / name
        runs = track_benchmark_sharded(model, sequences, dirs[name],
                                       batch_sequences=batch_sequences, resume=resume,
                                       progress=progress and rank == 0, device=device,
                                       torch_dtype=dtype, tracking_options=tracking_options, dataset=dataset)
        if world_size > 1:
            dist.destroy_process_group()
        if rank != 0:  # rank 0 has gathered this rank's runs: it scores, plots and writes the tables
            return None
    for baseline in baselines:
        dirs[baseline] = out / baseline
        track_benchmark(baseline, sequences, dirs[baseline], resume=resume, dataset=dataset)
    dirs.update({key: Path(folder) for key, folder in compare.items()})
    dirs.update(_earlier_runs(out, dataset, sequences, exclude=dirs))

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
    }, indent=2, allow_nan=False))
    plots = save_comparison_plots({key: ev.scores for key, ev in evaluations.items()}, out, title=benchmark)
    print(f"wrote {out / 'results.md'}, {out / 'results.json'}, {plots[0].name} and {plots[1].name} in {out}")
    return evaluations


def _earlier_runs(out: Path, dataset: dict[str, Any], sequences: Sequence[Any], exclude: Mapping[str, Path]
                  ) -> dict[str, Path]:
    """Tracker folders under ``out`` (not named or held by ``exclude``) whose ``run.json`` records ``dataset`` and
    that hold results for every sequence: earlier invocations, scored in the same table."""
    from .provenance import RECORD_FILE

    found = {}
    for record in sorted(out.glob(f"*/{RECORD_FILE}")) if out.is_dir() else []:
        folder = record.parent
        try:
            same = json.loads(record.read_text()).get("dataset") == json.loads(json.dumps(dataset))
        except (ValueError, AttributeError):
            same = False
        taken = folder.name in exclude or any(os.path.samefile(folder, f) for f in exclude.values() if f.exists())
        if not taken and same and all((folder / f"{s.name}.txt").is_file() for s in sequences):
            found[folder.name] = folder
    if found:
        print(f"also scoring earlier runs in {out}: {', '.join(found)}")
    return found
