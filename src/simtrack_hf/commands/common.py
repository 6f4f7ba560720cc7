"""What several commands share: the shipped demo model, the box argument and the variant / config options."""

from __future__ import annotations

import argparse
import os

from ..configuration_simtrack import SIMTRACK_VARIANTS, SimTrackConfig
from ..convert_simtrack import load_config

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo_model")
"""The model shipped in the package (`simtrack_hf/demo_model`), used when `--model` is not given."""


def parse_box(text: str) -> list[float]:
    """`X,Y,W,H` -> four floats (an argparse type)."""
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H (4 comma-separated numbers), got {text!r}")
    return box


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--variant NAME` or `--config config.json` (one of them, required by default)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--variant", choices=sorted(SIMTRACK_VARIANTS), help="a published SimTrack variant")
    group.add_argument("--config", help="a SimTrackConfig config.json instead of a variant preset")


def config_from_args(args: argparse.Namespace) -> SimTrackConfig:
    """The config named by `add_config_arguments`' options."""
    return load_config(args.variant, args.config)
