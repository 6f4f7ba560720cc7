"""What several commands share: the box argument, the variant / config, device, dtype and tracking options."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..loading import load_config


def parse_box(text: str) -> list[float]:
    """`X,Y,W,H` -> four floats (an argparse type; negative X and Y work as ``--box -5,-5,30,30``)."""
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H (4 comma-separated numbers), got {text!r}")
    return box


def finite_float(text: str) -> float:
    """A finite number >= 0 (an argparse type: tolerances)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, got {text!r}")
        return value

    return parse


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--variant NAME` or `--config config.json` (one of them, required by default)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--variant", choices=sorted(SIMTRACK_VARIANTS), help="a published SimTrack variant")
    group.add_argument("--config", help="a SimTrackConfig config.json instead of a variant preset")


def config_from_args(args: argparse.Namespace) -> SimTrackConfig:
    """The config named by `add_config_arguments`' options."""
    return load_config(args.variant, args.config)


def _int_at_least(text: str, minimum: int, description: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (an argparse type)."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer >= 0 (an argparse type)."""
    return _int_at_least(text, 0, "an integer >= 0")


def parse_device(text: str) -> str:
    """A torch device this build can use: cpu, cuda, cuda:1, mps ... (an argparse type)."""
    import torch

    try:
        device = torch.device(text)
    except RuntimeError as error:
        raise argparse.ArgumentTypeError(f"unknown device {text!r} ({error})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: this PyTorch build or machine has no CUDA device; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available on this machine; use cpu")
    return text


def check_writable(path: str) -> None:
    """Raise OSError naming ``path`` unless it can be created or overwritten (checked before long work; a file
    that did not exist is not left behind)."""
    target = Path(path)
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab"):
            pass
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error}") from None
    if not existed:
        target.unlink()


def runtime_options() -> argparse.ArgumentParser:
    """`--threads N`: the parent parser every subcommand gets (applied by `simtrack_hf.commands.main`)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="CPU threads for PyTorch, ONNX Runtime and OpenCV (default: $SIMTRACK_NUM_THREADS, "
                             "else PyTorch's default)")
    return parser


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
    """`--dtype`: float32 (default, the paper's numbers), auto (bf16 where the CPU has it and it is faster,
    fp16 on CUDA), bfloat16 or float16 (see `simtrack_hf.inference.runtime.resolve_dtype`)."""
    from ..inference.runtime import DTYPE_CHOICES

    parser.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES,
                        help="inference dtype (default float32; auto = bfloat16 on CPUs with native bf16 for models "
                             "at least 768 wide when measured faster, float16 on CUDA, else float32; the corner "
                             "soft-argmax stays float32)")


def parse_tracking_options(text: str) -> dict:
    """``--tracking-options '{"lost_threshold": 0.4}'``: a JSON object of `TrackingOptions` fields; ``paper``: every
    field at its default (the paper's tracker, whatever the model config stores)."""
    import dataclasses
    import json

    if text == "paper":
        from ..tracking_simtrack import TrackingOptions

        return dataclasses.asdict(TrackingOptions())
    try:
        options = json.loads(text)
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise argparse.ArgumentTypeError(f'expected a JSON object such as {{"lost_threshold": 0.4}}, got {text!r}')
    return options


def add_tracking_options_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-options", type=parse_tracking_options, default=None, metavar="JSON",
                        help="tracker options over the model config's: a JSON object of TrackingOptions fields, e.g. "
                        "'{\"max_scale_change\": 1.1, \"lost_threshold\": 0.4}', or 'paper' for the paper's tracker "
                        "(every option off)")
