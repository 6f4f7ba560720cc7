"""The `simtrack` command line."""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_model")


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


def _parse_box(text: str) -> list[float]:
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H (4 comma-separated numbers), got {text!r}")
    return box


def track(args: argparse.Namespace) -> None:
    """Track a box through a video; write an annotated video, a results file and attention maps on request."""
    import time

    from tqdm import tqdm

    from .tracking import SimTrackTracker
    from .evaluation.benchmarks import write_results
    from .video import AnnotatedVideoWriter, open_frames
    from .visualization import save_attention_grid

    tracker = SimTrackTracker.from_pretrained(args.model, device=args.device)
    source = int(args.video) if args.video.isdigit() and not os.path.exists(args.video) else args.video
    boxes, started = [], time.perf_counter()
    with open_frames(source) as frames:
        writer = AnnotatedVideoWriter(args.output, fps=frames.fps or 30) if args.output else None
        progress = tqdm(frames, total=frames.num_frames, unit="frame", desc="tracking")
        for index, frame in enumerate(progress):
            if args.attention_maps and index > 0 and (index - 1) % args.attention_every == 0:
                maps, crops = tracker.attention_maps(frame)
                save_attention_grid(maps[0], crops[0], os.path.join(args.attention_maps, f"frame_{index:06d}.png"))
            result = tracker.init(frame, args.box) if index == 0 else tracker.track(frame)
            boxes.append(result.boxes[0])
            if writer:
                writer.write(frame, result.boxes, result.scores)
        if writer:
            writer.close()
    seconds = time.perf_counter() - started
    if args.results:
        write_results(args.results, boxes)
    print(f"tracked {len(boxes)} frames in {seconds:.1f} s ({len(boxes) / max(seconds, 1e-9):.1f} FPS)")


def demo(args: argparse.Namespace) -> None:
    """Render a held-out synthetic video, track its target with the model, and score it against the truth."""
    import numpy as np

    from .data.synthetic import make_sequence
    from .evaluation.benchmarks import read_results
    from .evaluation.metrics import evaluate_sequence
    from .video import AnnotatedVideoWriter

    frames, ground_truth, visible = make_sequence(args.seed, num_frames=args.frames, size=(360, 480))
    os.makedirs(args.output_dir, exist_ok=True)
    video = os.path.join(args.output_dir, "demo_input.mp4")
    with AnnotatedVideoWriter(video, fps=25) as writer:
        for frame in frames:
            writer.write(frame)
    print(f"wrote {video}: a synthetic clip of {len(frames)} frames (seed {args.seed}) with a moving textured target")
    results = os.path.join(args.output_dir, "demo_boxes.txt")
    output = os.path.join(args.output_dir, "demo_tracked.mp4")
    track(argparse.Namespace(video=video, box=ground_truth[0].tolist(), model=args.model, output=output,
                             results=results, device=args.device, attention_maps=None, attention_every=10))
    ours = evaluate_sequence(read_results(results), ground_truth, visible, name="demo")
    static = evaluate_sequence(np.repeat(ground_truth[:1], len(ground_truth), 0), ground_truth, visible, name="demo")
    print(f"wrote {output} (annotated) and {results}")
    print(f"success AUC vs ground truth: SimTrack {ours.auc:.1f}, first-box baseline {static.auc:.1f}")


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

    p = commands.add_parser("track", help="track a target through a video file, image folder or camera")
    p.add_argument("video", help="video file, folder of frames, or camera index")
    p.add_argument("--box", required=True, type=_parse_box, help="first-frame box X,Y,W,H in pixels")
    p.add_argument("--model", default=DEFAULT_MODEL, help="save_pretrained folder or Hub repo (default: demo model)")
    p.add_argument("--output", help="annotated video to write (.mp4 or .avi)")
    p.add_argument("--results", help="results text file, one x,y,w,h line per frame")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: where the model loads)")
    p.add_argument("--attention-maps", metavar="DIR", help="save per-layer target attention grids (PNG) here")
    p.add_argument("--attention-every", type=int, default=10, metavar="N", help="one attention grid every N frames")
    p.set_defaults(func=track)

    p = commands.add_parser("demo", help="track the target of a generated video with the shipped demo model")
    p.add_argument("--model", default=DEFAULT_MODEL, help="save_pretrained folder or Hub repo (default: demo model)")
    p.add_argument("--output-dir", default="outputs", help="where the input and annotated videos are written")
    p.add_argument("--frames", type=int, default=150, help="length of the generated clip")
    p.add_argument("--seed", type=int, default=2026, help="seed of the clip (the demo model never saw it)")
    p.add_argument("--device", default=None)
    p.set_defaults(func=demo)

    from .benchmark import add_benchmark_arguments, run_benchmark_command
    from .evaluation.runner import add_evaluate_arguments, run_evaluate
    from .onnx_export import add_export_arguments, run_export_command

    p = commands.add_parser("evaluate", help="one-pass evaluation on a benchmark: results, table and plots")
    add_evaluate_arguments(p)
    p.set_defaults(func=run_evaluate)

    p = commands.add_parser("benchmark", help="speed, FLOPs and memory per variant and backend (markdown table)")
    add_benchmark_arguments(p)
    p.set_defaults(func=run_benchmark_command)

    p = commands.add_parser("export-onnx", help="export the per-frame step to ONNX and check it against PyTorch")
    add_export_arguments(p)
    p.set_defaults(func=run_export_command)
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
