"""`simtrack convert`: an original SimTrack checkpoint -> a save_pretrained folder, re-checked after saving."""

from __future__ import annotations

import argparse

from .common import add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="original .pth / .pth.tar (raw state dict or {'net': ...})")
    add_config_arguments(parser)
    parser.add_argument("--output", required=True, help="output folder")


def run(args: argparse.Namespace) -> None:
    """Convert, save model and processor, reload and compare boxes (exit on a difference above 1e-6)."""
    from ..image_processing_simtrack import SimTrackImageProcessor
    from ..io.paths import check_outputs
    from ..loading import load_model, parity_check

    check_outputs({"--checkpoint": args.checkpoint, "--config": args.config}, {"--output": args.output})
    config = config_from_args(args)
    model = load_model(args.checkpoint, config, kind="original").eval()
    model.save_pretrained(args.output)
    SimTrackImageProcessor.from_model_config(config).save_pretrained(args.output)
    try:
        diff = parity_check(model, args.output)
    except RuntimeError as error:
        raise SystemExit(f"saved model does not reproduce the converted weights: {error}") from error
    print(f"wrote {args.output} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters); "
          f"reloaded boxes match the converted checkpoint (max difference {diff:.1e})")
