"""`simtrack benchmark`: speed, FLOPs and memory per variant and backend (markdown table and/or JSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..configuration_simtrack import SIMTRACK_VARIANTS
from ..tools.speed import BACKENDS, available_backends, default_device, format_markdown, measure_speed


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--variants", default=",".join(SIMTRACK_VARIANTS),
                        help="comma-separated variant names or config.json paths (default: all four)")
    parser.add_argument("--backends", default="auto",
                        help=f"comma-separated from {', '.join(BACKENDS)}; 'auto' = all available except compile")
    parser.add_argument("--compile", action="store_true", help="also benchmark torch.compile (slow first call)")
    parser.add_argument("--frames", type=int, default=20, help="timed frames per measurement (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up calls (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch / ONNX Runtime / OpenCV threads")
    parser.add_argument("--batch", type=int, default=1, help="targets tracked per frame (N rows of one forward)")
    parser.add_argument("--device", default=None, help="device of the PyTorch backends (default: cuda if present)")
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH",
                        help="write JSON to PATH; without PATH print JSON instead of the table")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run `measure_speed` from parsed arguments; print the markdown table and/or JSON."""
    if args.frames < 1 or args.warmup < 0 or args.batch < 1:
        raise ValueError("--frames and --batch must be >= 1, --warmup >= 0")
    backends = None if args.backends == "auto" else [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.compile:
        backends = (backends or available_backends(default_device(args.device))) + ["compile"]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    result = measure_speed(variants, backends, frames=args.frames, warmup=args.warmup, batch=args.batch,
                           threads=args.threads, device=args.device)
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        print(format_markdown(result))
    return result
