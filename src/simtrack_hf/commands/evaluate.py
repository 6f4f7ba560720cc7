"""`simtrack evaluate`: one-pass evaluation on a benchmark (resumable), its scores, table, plots and submissions.

Launched by torchrun or accelerate (``accelerate launch -m simtrack_hf.commands evaluate ...``), the sequences are
shared out over the processes (one GPU each: ``cuda:<LOCAL_RANK>``); rank 0 gathers, scores and plots.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..evaluation.baselines import BASELINES, check_baselines
from ..evaluation.metrics import CONVENTIONS
from .common import DEFAULT_MODEL, add_dtype_argument, add_tracking_options_argument, parse_device

DATASET_FORMATS = ("got10k", "lasot", "trackingnet", "otb", "uav123", "tnl2k", "synthetic", "photos")


def _compare_arg(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep:
        name, folder = Path(text).name, text
    if not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, folder


def _baselines(text: str) -> list[str]:
    try:
        return check_baselines(name for name in text.split(",") if name.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _result_name(text: str) -> str:
    """A tracker name that is one plain folder name under --results-dir (no separators, not . or ..)."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or text.startswith("."):
        raise argparse.ArgumentTypeError(f"expected a plain folder name (no '/', '\\' or leading '.'), got {text!r}")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset-format", required=True, choices=DATASET_FORMATS, help="benchmark layout")
    parser.add_argument("--root", required=True, help="benchmark folder (see simtrack_hf.data.benchmarks)")
    parser.add_argument("--split", default="val", choices=["val", "test"],
                        help="GOT-10k split (default val); test writes a submission instead of scores")
    parser.add_argument("--synthetic-sequences", type=int, default=12, metavar="N",
                        help="synthetic / photos formats: when --root does not exist, render N held-out clips there")
    parser.add_argument("--synthetic-frames", type=int, default=120, metavar="N", help="frames per generated clip")
    parser.add_argument("--photos", default=None, metavar="DIR",
                        help="photos format: held-out photos to render clips from (default: the heldout folder "
                        "of `simtrack fetch-photos`)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="save_pretrained folder or Hub repo (default: demo model)")
    parser.add_argument("--name", default="simtrack", type=_result_name, help="name of the model's results (folder and table row)")
    add_tracking_options_argument(parser)
    parser.add_argument("--no-model", action="store_true", help="do not run the model: score --compare/--baseline")
    parser.add_argument("--results-dir", default=None,
                        help="output folder (default results/<benchmark>): <name>/<seq>.txt, results.md/.json, plots")
    parser.add_argument("--compare", action="append", default=[], type=_compare_arg, metavar="NAME=DIR",
                        help="also score this result folder (<seq>.txt or <seq>_001.txt files); repeatable")
    parser.add_argument("--baseline", type=_baselines, default=[], metavar="NAMES",
                        help=f"comma-separated classical baselines run on the same sequences ({', '.join(BASELINES)}): "
                        "'static' keeps the first-frame box; MIL, KCF, CSRT are OpenCV's (KCF/CSRT need the contrib "
                        "build in a separate environment)")
    parser.add_argument("--convention", choices=CONVENTIONS, default=None,
                        help="metrics convention (default: got10k for GOT-10k, else pytracking)")
    parser.add_argument("--batch-sequences", type=int, default=8, metavar="K", help="videos per model forward")
    parser.add_argument("--device", default=None, type=parse_device,
                        help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    add_dtype_argument(parser)
    parser.add_argument("--max-sequences", type=int, default=None, metavar="N", help="only the first N sequences")
    parser.add_argument("--no-resume", action="store_true", help="track again even where results exist")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> None:
    """Track (resumable), score, print the table; write results.md / results.json and the plots, or the
    server submission for GOT-10k test / TrackingNet."""
    import matplotlib  # noqa: F401  (the plots need the [eval] extra: fail before tracking, not after)

    from ..data.benchmarks import read_benchmark
    from ..evaluation.plots import save_comparison_plots
    from ..evaluation.results import write_got10k_submission, write_trackingnet_submission
    from ..evaluation.runner import distributed_rank, init_process_group, track_benchmark, track_benchmark_sharded
    from ..evaluation.scoring import evaluate_results, results_table

    if args.max_sequences is not None and args.max_sequences < 1:
        raise ValueError(f"--max-sequences must be >= 1, got {args.max_sequences}")
    benchmark = f"got10k_{args.split}" if args.dataset_format == "got10k" else args.dataset_format
    root = Path(args.root)
    rank, world_size, local_rank = distributed_rank()
    if world_size > 1 and args.no_model:
        raise ValueError("--no-model only scores result folders: run it in one process, not under a launcher")
    if world_size > 1:
        import torch.distributed as dist

        init_process_group()
    if benchmark == "synthetic" and not root.exists() and rank == 0:
        from ..training.workspace import ensure_synthetic_benchmark

        # Seeds (1000, i): held out from training (make_demo_model.py trains on seeds (0, i)). Rendered atomically:
        # an interrupted run leaves no --root behind, so a later run renders again instead of scoring a part.
        ensure_synthetic_benchmark(root, args.synthetic_sequences, args.synthetic_frames, seed=1000)
        print(f"rendered {args.synthetic_sequences} held-out synthetic clips of {args.synthetic_frames} frames in {root}")
    if benchmark == "photos" and not root.exists() and rank == 0:
        from ..data.photos import default_photo_dir
        from ..training.workspace import ensure_photo_benchmark

        photos = args.photos or default_photo_dir() / "heldout"
        ensure_photo_benchmark(root, photos, args.synthetic_sequences, args.synthetic_frames)
        print(f"rendered {args.synthetic_sequences} clips of {args.synthetic_frames} frames from the photos of "
              f"{photos} in {root}")
    if world_size > 1:  # the other ranks read the benchmark once rank 0 has rendered it
        dist.barrier()
    sequences = read_benchmark(benchmark, args.root)[: args.max_sequences]
    out = Path(args.results_dir or Path("results") / benchmark)
    compare = dict(args.compare)
    names = ([] if args.no_model else [args.name]) + list(args.baseline) + list(compare)
    if len(set(names)) != len(names):
        raise ValueError(f"tracker names must differ, got {names}")
    if not names:
        raise ValueError("nothing to evaluate: drop --no-model, or give --compare / --baseline")
    dirs: dict[str, Path] = {}
    runs = None
    if not args.no_model:
        import torch

        device = args.device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
        dirs[args.name] = out / args.name
        runs = track_benchmark_sharded(args.model, sequences, dirs[args.name],
                                       batch_sequences=args.batch_sequences, resume=not args.no_resume,
                                       progress=not args.no_progress and rank == 0, device=device,
                                       torch_dtype=args.dtype, tracking_options=args.tracking_options)
        if world_size > 1:
            dist.destroy_process_group()
        if rank != 0:  # rank 0 has gathered this rank's runs: it scores, plots and writes the tables
            return
    for baseline in args.baseline:
        dirs[baseline] = out / baseline
        track_benchmark(baseline, sequences, dirs[baseline], resume=not args.no_resume)
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
