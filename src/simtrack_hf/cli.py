"""The `simtrack` command line."""

from __future__ import annotations

import argparse
import sys


def _config_from_args(args: argparse.Namespace):
    from .configuration_simtrack import SimTrackConfig

    if args.config:
        return SimTrackConfig.from_json_file(args.config)
    return SimTrackConfig.from_variant(args.variant)


def convert(args: argparse.Namespace) -> None:
    """Original SimTrack checkpoint -> save_pretrained folder (safetensors), re-checked after saving."""
    import torch

    from .convert_simtrack import convert_original_state_dict, load_original_checkpoint
    from .image_processing_simtrack import SimTrackImageProcessor
    from .modeling_simtrack import SimTrackModel

    config = _config_from_args(args)
    state_dict = convert_original_state_dict(load_original_checkpoint(args.checkpoint), config)
    model = SimTrackModel(config).eval()
    model.load_state_dict(state_dict, strict=True)
    model.save_pretrained(args.output)
    SimTrackImageProcessor.from_model_config(config).save_pretrained(args.output)

    generator = torch.Generator().manual_seed(0)
    t, s = config.template_size, config.search_size
    inputs = dict(
        template_pixel_values=torch.randn(2, 3, t, t, generator=generator),
        search_pixel_values=torch.randn(2, 3, s, s, generator=generator),
        template_boxes=torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.3, 0.2, 0.4, 0.6]]),
    )
    reloaded = SimTrackModel.from_pretrained(args.output).eval()
    with torch.inference_mode():
        diff = (model(**inputs).pred_boxes - reloaded(**inputs).pred_boxes).abs().max().item()
    if diff > 1e-6:
        raise SystemExit(f"saved model does not reproduce the converted weights (max box difference {diff:.2e})")
    print(f"wrote {args.output} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters); "
          f"reloaded boxes match the converted checkpoint (max difference {diff:.1e})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simtrack", description="SimTrack visual object tracking")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("convert", help="convert an original SimTrack checkpoint to a save_pretrained folder")
    p.add_argument("--checkpoint", required=True, help="original .pth / .pth.tar (raw state dict or {'net': ...})")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--variant", choices=["sim-b32", "sim-b16", "sim-b16star", "sim-l14"])
    group.add_argument("--config", help="a SimTrackConfig config.json instead of a variant preset")
    p.add_argument("--output", required=True, help="output folder")
    p.set_defaults(func=convert)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"simtrack {args.command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
