"""The `simtrack` command line: one argparse tree for every subcommand.

    simtrack track | demo | convert | evaluate | benchmark | export-onnx | train | push-to-hub

Each subcommand lives in its own module with `add_arguments`-style option builders and a runner; `scripts/*.py`
call `main` with their subcommand.
"""

from __future__ import annotations

import argparse
import sys

from . import convert, evaluate, export, push, speed, track, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simtrack", description="SimTrack visual object tracking")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("convert", help="convert an original SimTrack checkpoint to a save_pretrained folder")
    convert.add_arguments(p)
    p.set_defaults(func=convert.run)

    p = commands.add_parser("track", help="track a target through a video file, image folder or camera")
    track.add_track_arguments(p)
    p.set_defaults(func=track.track)

    p = commands.add_parser("demo", help="track the target of a generated video with the shipped demo model")
    track.add_demo_arguments(p)
    p.set_defaults(func=track.demo)

    p = commands.add_parser("evaluate", help="one-pass evaluation on a benchmark: results, table and plots")
    evaluate.add_arguments(p)
    p.set_defaults(func=evaluate.run)

    p = commands.add_parser("benchmark", help="speed, FLOPs and memory per variant and backend (markdown table)")
    speed.add_arguments(p)
    p.set_defaults(func=speed.run)

    p = commands.add_parser("export-onnx", help="export the per-frame step to ONNX and check it against PyTorch")
    export.add_arguments(p)
    p.set_defaults(func=export.run)

    p = commands.add_parser("train", parents=[train.field_parser()], help="train with the SimTrack recipe")
    train.add_arguments(p)
    p.set_defaults(func=train.run)

    p = commands.add_parser("push-to-hub", help="upload a variant (weights, code, card) to the Hub, or a dry run")
    push.add_arguments(p)
    p.set_defaults(func=push.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"simtrack {args.command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from error


__all__ = ["build_parser", "main"]
