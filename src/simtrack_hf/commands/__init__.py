"""The `simtrack` command line: one argparse tree for every subcommand.

    simtrack track | demo | app | convert | evaluate | benchmark | export-onnx | train | push-to-hub

Each subcommand lives in its own module with `add_arguments`-style option builders and a runner; `scripts/*.py`
call `main` with their subcommand. A user error (bad input, missing file, missing extra) ends the command with one
line, ``simtrack <command>: error: ...``, and exit code 2; ``--debug`` or ``SIMTRACK_DEBUG=1`` shows the traceback.
Every subcommand takes ``--threads N`` (default ``$SIMTRACK_NUM_THREADS``, see `simtrack_hf.inference.runtime`).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..inference.runtime import set_threads
from . import app, convert, evaluate, export, push, speed, track, train
from .common import runtime_options


# name, help, option builder, runner (and for `train` the parent parser holding its dataclass fields)
_SUBCOMMANDS = (
    ("convert", "convert an original SimTrack checkpoint to a save_pretrained folder", convert.add_arguments,
     convert.run),
    ("track", "track a target through a video file, image folder or camera", track.add_track_arguments, track.track),
    ("demo", "track the target of a generated video with the shipped demo model", track.add_demo_arguments,
     track.demo),
    ("app", "the web demo (Gradio) on this machine: upload, mark targets, track, download", app.add_arguments,
     app.run),
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


# optional dependency -> the extra that installs it
_EXTRAS = {"matplotlib": "eval", "evaluate": "eval", "datasets": "train", "accelerate": "train", "onnx": "onnx",
           "onnxscript": "onnx", "onnxruntime": "onnx"}
USER_ERRORS = (ValueError, OSError, ImportError)
"""Exceptions reported as one line (bugs elsewhere keep their traceback)."""


def _debug_option(default: object) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--debug", action="store_true", default=default, dest="traceback",
                        help="show the full traceback of an error (or set SIMTRACK_DEBUG=1)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simtrack", description="SimTrack visual object tracking",
                                     parents=[_debug_option(False)])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, run in _SUBCOMMANDS:
        # `train` keeps TrainingArguments' own --debug: there `simtrack --debug train` or SIMTRACK_DEBUG=1
        parents = [train.field_parser()] if name == "train" else [_debug_option(argparse.SUPPRESS)]
        parents.append(runtime_options())
        subparser = commands.add_parser(name, help=help_text, parents=parents)
        add_arguments(subparser)
        subparser.set_defaults(func=run)
    return parser


def error_line(error: BaseException) -> str:
    """One line for a user error: its message with line breaks folded, or the extra to install for a missing
    optional dependency."""
    module = (getattr(error, "name", None) or "").split(".")[0]
    if isinstance(error, ImportError) and module in _EXTRAS:
        return f"this needs {module}, which is not installed: pip install simtrack_hf[{_EXTRAS[module]}]"
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def main(argv: list[str] | None = None) -> None:
    """Run a `simtrack` subcommand; user errors exit with one line and code 2 (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        set_threads(args.threads)
        args.func(args)
    except USER_ERRORS as error:
        if args.traceback or os.environ.get("SIMTRACK_DEBUG", "") not in ("", "0"):
            raise
        print(f"simtrack {args.command}: error: {error_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None


__all__ = ["USER_ERRORS", "build_parser", "error_line", "main"]
