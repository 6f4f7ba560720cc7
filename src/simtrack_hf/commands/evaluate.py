"""`simtrack evaluate`: one-pass evaluation on a benchmark (resumable), its scores, table, plots and submissions
(`simtrack_hf.evaluation.run.evaluate_benchmark` with the command's options).

Launched by torchrun or accelerate (``accelerate launch -m simtrack_hf.commands evaluate ...``), the sequences are
shared out over the processes (one GPU each: ``cuda:<LOCAL_RANK>``); rank 0 gathers, scores and plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluation.baselines import BASELINES, check_baselines
from ..evaluation.metrics import CONVENTIONS
from ..evaluation.run import DATASET_FORMATS, evaluate_benchmark
from ..loading import DEFAULT_MODEL
from .common import add_dtype_argument, add_tracking_options_argument, bounded_int, parse_device, positive_int


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
    parser.add_argument("--synthetic-sequences", type=positive_int, default=None, metavar="N",
                        help="synthetic / photos formats: render N held-out clips at --root when it does not exist "
                        "(default 12) or was rendered with another N; not given, a rendered --root is taken as it is")
    parser.add_argument("--synthetic-frames", type=bounded_int(2, 10**6), default=None, metavar="N",
                        help="frames per generated clip (default 120; as --synthetic-sequences)")
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
    """`simtrack_hf.evaluation.run.evaluate_benchmark` with the command's options."""
    evaluate_benchmark(
        args.dataset_format, args.root, split=args.split, model=args.model, name=args.name,
        run_model=not args.no_model, tracking_options=args.tracking_options, results_dir=args.results_dir,
        compare=args.compare, baselines=args.baseline, convention=args.convention,
        batch_sequences=args.batch_sequences, device=args.device, dtype=args.dtype,
        max_sequences=args.max_sequences, resume=not args.no_resume, progress=not args.no_progress,
        synthetic_sequences=args.synthetic_sequences, synthetic_frames=args.synthetic_frames, photos=args.photos,
    )
