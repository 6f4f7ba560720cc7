"""`simtrack train`: the options of `simtrack_hf.training.run.train` (every `SimTrackArguments` and
`SimTrackTrainingArguments` field) on the command line or in a JSON file. Flags accept dashes or underscores.
Multi-process launches run `scripts/train.py` (accelerate / torchrun).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import torch
from transformers import HfArgumentParser

from ..inference.runtime import set_threads
from ..training import SimTrackArguments, SimTrackTrainer, SimTrackTrainingArguments, train
from .common import runtime_options


def field_parser() -> HfArgumentParser:
    """Every `SimTrackArguments` and `SimTrackTrainingArguments` field as an option (dashes or underscores); a
    parent parser of `simtrack train`."""
    return HfArgumentParser((SimTrackArguments, SimTrackTrainingArguments), add_help=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional JSON file that may hold the options instead of flags (the fields come from `field_parser`)."""
    parser.add_argument("json_file", nargs="?", help="a JSON file of the options instead of flags")


def arguments_from_namespace(args: argparse.Namespace) -> tuple[SimTrackArguments, SimTrackTrainingArguments]:
    """The two dataclasses from parsed options (or from the JSON file when one was given)."""
    # A CPU-only multi-process launch (torchrun / accelerate --multi_gpu) needs the CPU flag to pick gloo;
    # without it every process would silently train alone.
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        os.environ.setdefault("ACCELERATE_USE_CPU", "1")
    if args.json_file:
        return tuple(field_parser().parse_json_file(args.json_file))
    values = vars(args)
    return tuple(
        dtype(**{f.name: values[f.name] for f in dataclasses.fields(dtype) if f.init and f.name in values})
        for dtype in (SimTrackArguments, SimTrackTrainingArguments)
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="simtrack train", parents=[field_parser(), runtime_options()])
    add_arguments(parser)
    return parser.parse_args(sys.argv[1:] if argv is None else argv)


def parse_args(argv: list[str] | None = None) -> tuple[SimTrackArguments, SimTrackTrainingArguments]:
    """`simtrack train` options -> the two dataclasses."""
    return arguments_from_namespace(_parse(argv))


def main(argv: list[str] | None = None) -> SimTrackTrainer:
    """Parse `argv`, apply `--threads` (default ``$SIMTRACK_NUM_THREADS``) and train (what `scripts/train.py`
    runs; `simtrack train` gets `--threads` from the command tree)."""
    args = _parse(argv)
    set_threads(args.threads)
    return run(args)


def run(args: argparse.Namespace) -> SimTrackTrainer:
    return train(*arguments_from_namespace(args))
