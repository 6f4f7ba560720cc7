"""`simtrack benchmark`: speed, FLOPs, memory and accuracy cost per variant, backend and number of targets, against
the fp32 PyTorch baseline of the same run (markdown tables and/or JSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..configuration_simtrack import SIMTRACK_VARIANTS
from ..loading import DEFAULT_MODEL
from ..tools.speed import (
    BACKENDS,
    available_backends,
    default_device,
    format_markdown,
    measure_accuracy,
    measure_speed,
)
from .common import parse_device, positive_int


def _batches(text: str) -> list[int]:
    """`1,2,4` -> [1, 2, 4] (an argparse type)."""
    try:
        return [positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--variants", default=",".join(SIMTRACK_VARIANTS),
                        help="comma-separated variant names or config.json paths (default: all four)")
    parser.add_argument("--backends", default="auto",
                        help=f"comma-separated from {', '.join(BACKENDS)}; 'auto' = all available except compile "
                             "(the fp32 baseline, eager, always runs first)")
    parser.add_argument("--compile", action="store_true", help="also benchmark torch.compile (slow first call)")
    parser.add_argument("--frames", type=positive_int, default=20, help="timed frames per measurement (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up calls (default 3)")
    parser.add_argument("--batch", type=_batches, default=[1], metavar="N[,N...]",
                        help="targets tracked per frame (N rows of one forward), e.g. 1,2,4 (default 1)")
    parser.add_argument("--device", default=None, type=parse_device,
                        help="device of the PyTorch backends (default: cuda if present)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="run N CPU-bound competitor processes while timing (a shared machine)")
    parser.add_argument("--accuracy-root", metavar="DIR",
                        help="also track this held-out benchmark (GOT-10k layout) with --accuracy-model and every "
                             "backend: success AUC and its difference from fp32")
    parser.add_argument("--accuracy-model", default=DEFAULT_MODEL,
                        help="trained model of the accuracy table (default: the shipped model)")
    parser.add_argument("--accuracy-sequences", type=positive_int, default=None, metavar="N",
                        help="only the first N sequences of --accuracy-root")
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH",
                        help="write JSON to PATH; without PATH print JSON instead of the table")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run `measure_speed` (and `measure_accuracy` with --accuracy-root) from parsed arguments; print the markdown
    tables and/or JSON."""
    if args.warmup < 0 or args.busy < 0:
        raise ValueError("--warmup and --busy must be >= 0")
    backends = None if args.backends == "auto" else [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.compile:
        backends = (backends or available_backends(default_device(args.device))) + ["compile"]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    result = measure_speed(variants, backends, frames=args.frames, warmup=args.warmup, batches=args.batch,
                           threads=args.threads, device=args.device, competitors=args.busy)
    if args.accuracy_root:
        result["accuracy"] = measure_accuracy(args.accuracy_model, args.accuracy_root, backends,
                                              max_sequences=args.accuracy_sequences, device=args.device)
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        print(format_markdown(result))
    return result
