"""The `simtrack` command line: one argparse tree for every subcommand, built from declarations.

    simtrack track | demo | app | convert | evaluate | benchmark | export-onnx | train | fetch-photos | push-to-hub

This package sits outside `simtrack_hf` so that `simtrack --help` imports neither torch nor transformers
(importing `simtrack_hf` registers the model with transformers' Auto classes, which loads both). Each subcommand's
options and runner live in `simtrack_hf.commands.<module>`; only the subcommand being run is imported.
A user error (bad input, missing file, missing extra) ends the command with one line,
``simtrack <command>: error: ...``, and exit code 2; ``--debug`` or ``SIMTRACK_DEBUG=1`` shows the traceback.
Every subcommand takes ``--threads N`` (default ``$SIMTRACK_NUM_THREADS``, see `simtrack_hf.inference.runtime`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable
from typing import NamedTuple


class Command(NamedTuple):
    """A subcommand: its name, one-line help, and where its option builder and runner live."""

    name: str
    help: str
    module: str  # under simtrack_hf.commands
    add_arguments: str
    run: str


COMMANDS = (
    Command("convert", "convert an original SimTrack checkpoint to a save_pretrained folder", "convert",
            "add_arguments", "run"),
    Command("track", "track a target through a video file, image folder or camera", "track", "add_track_arguments",
            "track"),
    Command("demo", "track the target of a generated video with the shipped demo model", "track",
            "add_demo_arguments", "demo"),
    Command("app", "the web demo (Gradio) on this machine: upload, mark targets, track, download", "app",
            "add_arguments", "run"),
    Command("evaluate", "one-pass evaluation on a benchmark: results, table and plots", "evaluate", "add_arguments",
            "run"),
    Command("benchmark", "speed, FLOPs and memory per variant and backend (markdown table)", "speed",
            "add_arguments", "run"),
    Command("export-onnx", "export the per-frame step to ONNX and check it against PyTorch", "export",
            "add_arguments", "run"),
    Command("train", "train with the SimTrack recipe (every TrainingArguments field is an option)", "train",
            "add_arguments", "run"),
    Command("fetch-photos", "fetch the real photographs the default model trains on (and its held-out set)",
            "photos", "add_arguments", "run"),
    Command("push-to-hub", "upload a variant (weights, code, card) to the Hub, or write the upload folder", "push",
            "add_arguments", "run"),
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


def _implementation(command: Command) -> tuple[Callable, Callable, list[argparse.ArgumentParser]]:
    """Import a subcommand's module: its option builder, runner and parent parsers (`--threads`, `--debug`)."""
    module = importlib.import_module(f"simtrack_hf.commands.{command.module}")
    from simtrack_hf.commands.common import runtime_options

    # `train` keeps TrainingArguments' own --debug: there `simtrack --debug train` or SIMTRACK_DEBUG=1
    first = module.field_parser() if command.name == "train" else _debug_option(argparse.SUPPRESS)
    return getattr(module, command.add_arguments), getattr(module, command.run), [first, runtime_options()]


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The `simtrack` parser. With `argv`, only the subcommand it names gets its options (and its module
    imported); without, every subcommand does."""
    parser = argparse.ArgumentParser(prog="simtrack", description="SimTrack visual object tracking",
                                     parents=[_debug_option(False)])
    commands = parser.add_subparsers(dest="command", required=True)
    selected = None if argv is None else next((arg for arg in argv if not arg.startswith("-")), "")
    for command in COMMANDS:
        if selected is not None and command.name != selected:
            commands.add_parser(command.name, help=command.help)
            continue
        add_arguments, run, parents = _implementation(command)
        subparser = commands.add_parser(command.name, help=command.help, parents=parents)
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


_NUMBER_LIST = re.compile(r"-[\d.][\d.eE+-]*(,[-+\d.eE]+)+")


def _join_number_lists(argv: list[str]) -> list[str]:
    """``--box -5,-5,30,30`` -> ``--box=-5,-5,30,30``: argparse takes a value that starts with ``-`` (and is no
    single negative number) for an option."""
    joined: list[str] = []
    for arg in argv:
        previous = joined[-1] if joined else ""
        option = previous.startswith("--") and previous != "--" and "=" not in previous
        if option and _NUMBER_LIST.fullmatch(arg):
            joined[-1] = f"{previous}={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> None:
    """Run a `simtrack` subcommand; user errors exit with one line and code 2 (see the module docstring)."""
    argv = _join_number_lists(sys.argv[1:] if argv is None else list(argv))
    args = build_parser(argv).parse_args(argv)
    try:
        from transformers.utils import logging as transformers_logging

        from simtrack_hf.inference.runtime import set_threads

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar for a 4 MB model
        set_threads(args.threads)
        args.func(args)
    except USER_ERRORS as error:
        if args.traceback or os.environ.get("SIMTRACK_DEBUG", "") not in ("", "0"):
            raise
        print(f"simtrack {args.command}: error: {error_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None


__all__ = ["COMMANDS", "USER_ERRORS", "Command", "build_parser", "error_line", "main"]
