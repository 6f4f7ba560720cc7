"""The `simtrack` command line: one argparse tree for every subcommand.

    simtrack track | demo | convert | evaluate | benchmark | export-onnx | train | push-to-hub

Each subcommand lives in its own module with `add_arguments`-style option builders and a runner; `scripts/*.py`
call `main` with their subcommand.
"""

from __future__ import annotations

import argparse
import sys

from . import convert, evaluate, export, push, speed, track, train


# name, help, option builder, runner (and for `train` the parent parser holding its dataclass fields)
_SUBCOMMANDS = (
    ("convert", "convert an original SimTrack checkpoint to a save_pretrained folder", convert.add_arguments,
     convert.run),
    ("track", "track a target through a video file, image folder or camera", track.add_track_arguments, track.track),
    ("demo", "track the target of a generated video with the shipped demo model", track.add_demo_arguments,
     track.demo),
    ("evaluate", "one-pass evaluation on a benchmark: results, table and plots", evaluate.add_arguments,
     evaluate.run),
    ("benchmark", "speed, FLOPs and memory per variant and backend (markdown table)", speed.add_arguments, speed.run),
    ("export-onnx", "export the per-frame step to ONNX and check it against PyTorch", export.add_arguments,
     export.run),
    ("train", "train with the SimTrack recipe (every TrainingArguments field is an option)", train.add_arguments,
     train.run),
    ("push-to-hub", "upload a variant (weights, code, card) to the Hub, or write the upload folder",
     push.add_arguments, push.run),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simtrack", description="SimTrack visual object tracking")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, run in _SUBCOMMANDS:
        parents = [train.field_parser()] if name == "train" else []
        subparser = commands.add_parser(name, help=help_text, parents=parents)
        add_arguments(subparser)
        subparser.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"simtrack {args.command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from error


__all__ = ["build_parser", "main"]
