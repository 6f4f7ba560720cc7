"""`simtrack track` (a box through a video: annotated video, results file, attention maps) and `simtrack demo`."""

from __future__ import annotations

import argparse
import os

from ..loading import DEFAULT_MODEL
from .common import (
    add_dtype_argument,
    add_tracking_options_argument,
    check_writable,
    parse_box,
    parse_device,
    positive_int,
)


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="video file, folder of frames, or camera index")
    parser.add_argument("--box", required=True, type=parse_box, action="append",
                        help="first-frame box X,Y,W,H in pixels; repeat for several targets (one forward for all)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="save_pretrained folder, Hub repo or `simtrack export-onnx` folder (default: demo model)")
    parser.add_argument("--backend", choices=["torch", "onnxruntime"], default=None,
                        help="default: onnxruntime for a folder holding model.onnx, else torch")
    parser.add_argument("--output", help="annotated video to write (.mp4 / .mov: H.264, .webm: VP9, which browsers "
                                          "play; .avi: MJPG)")
    parser.add_argument("--results", help="results text file, one x,y,w,h line per frame (several targets: "
                                           "one file per target, NAME_1.txt, NAME_2.txt, ...)")
    parser.add_argument("--device", default=None, type=parse_device,
                        help="cpu, cuda, cuda:1, ... (default: where the model loads)")
    add_dtype_argument(parser)
    add_tracking_options_argument(parser)
    parser.add_argument("--attention-maps", metavar="DIR", help="save per-layer target attention grids (PNG) here")
    parser.add_argument("--attention-every", type=positive_int, default=10, metavar="N",
                        help="one attention grid every N frames")


def target_results_paths(path: str, num_targets: int) -> list[str]:
    """`path` for one target, else `NAME_1.txt`, `NAME_2.txt`, ... beside it (one results file per target)."""
    if num_targets == 1:
        return [path]
    stem, suffix = os.path.splitext(path)
    return [f"{stem}_{k}{suffix or '.txt'}" for k in range(1, num_targets + 1)]


def track(args: argparse.Namespace) -> None:
    """Track a box through a video; write an annotated video, a results file and attention maps on request.

    Output paths are checked before tracking; boxes and video frames are written as each frame is tracked, so
    an unreadable frame stops the run with what was tracked before it kept (the error names the frame).
    """
    import contextlib
    import time

    from tqdm import tqdm

    from ..evaluation.results import format_results
    from ..inference.attention import attention_maps
    from ..inference.tracker import SimTrackTracker
    from ..io.frames import open_frames
    from ..io.writers import AnnotatedVideoWriter, save_attention_grid

    results_paths = target_results_paths(args.results, len(args.box)) if args.results else []
    for path in [*results_paths, args.output]:
        if path:
            check_writable(path)
    if args.attention_maps:
        os.makedirs(args.attention_maps, exist_ok=True)
    backend = args.backend or ("onnxruntime" if os.path.isfile(os.path.join(args.model, "model.onnx")) else "torch")
    if backend != "torch" and args.dtype not in ("float32", "auto"):
        raise ValueError(f"--dtype {args.dtype} applies to PyTorch models; an ONNX export runs as it was exported "
                         "(float32, or int8 with export-onnx --quantize int8)")
    tracker = SimTrackTracker.from_pretrained(args.model, device=args.device, backend=backend,
                                              torch_dtype=args.dtype if backend == "torch" else None,
                                              tracking_options=args.tracking_options)
    source = int(args.video) if args.video.isdigit() and not os.path.exists(args.video) else args.video
    count, started = 0, time.perf_counter()
    with contextlib.ExitStack() as stack:
        results = [stack.enter_context(open(path, "w")) for path in results_paths]
        frames = stack.enter_context(open_frames(source))
        writer = stack.enter_context(AnnotatedVideoWriter(args.output, fps=frames.fps or 30)) if args.output else None
        progress = tqdm(frames, total=frames.num_frames, unit="frame", desc="tracking")
        try:
            for index, frame in enumerate(progress):
                if args.attention_maps and index > 0 and (index - 1) % args.attention_every == 0:
                    maps, crops = attention_maps(tracker, frame)
                    save_attention_grid(maps[0], crops[0], os.path.join(args.attention_maps, f"frame_{index:06d}.png"))
                result = tracker.init(frame, args.box) if index == 0 else tracker.track(frame)
                for target, file in enumerate(results):
                    file.write(format_results(result.boxes[target : target + 1]))
                    file.flush()
                if writer:
                    writer.write(frame, result.boxes, result.scores, lost=result.lost)
                count += 1
        except (ValueError, OSError) as error:
            written = ", ".join(results_paths)
            kept = f"; the {count} frames tracked before it are in {written}" if results and count else ""
            raise ValueError(f"frame {count}: {error}{kept}") from error
    seconds = time.perf_counter() - started
    print(f"tracked {count} frames in {seconds:.1f} s ({count / max(seconds, 1e-9):.1f} FPS)")


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="save_pretrained folder or Hub repo (default: the shipped default model)")
    parser.add_argument("--output-dir", default="outputs", help="where the annotated video and boxes are written")
    parser.add_argument("--device", default=None, type=parse_device)
    add_dtype_argument(parser)


def demo(args: argparse.Namespace) -> None:
    """Track the target of the shipped example clip (held-out real photographs), score it against its truth."""
    import numpy as np

    from ..evaluation.metrics import evaluate_sequence
    from ..evaluation.results import read_results
    from ..examples import example_clips

    clip = example_clips()[0]
    print(f"tracking {clip.video.name}: {len(clip.ground_truth)} frames made from held-out real photographs "
          "(the model never saw them)")
    os.makedirs(args.output_dir, exist_ok=True)
    results = os.path.join(args.output_dir, "demo_boxes.txt")
    output = os.path.join(args.output_dir, "demo_tracked.mp4")
    track(argparse.Namespace(video=str(clip.video), box=[clip.box], model=args.model, backend=None,
                             output=output, results=results, device=args.device, dtype=args.dtype, attention_maps=None,
                             attention_every=10, tracking_options=None))
    truth = clip.ground_truth
    visible = np.isfinite(truth).all(1)
    ours = evaluate_sequence(read_results(results), truth, visible, name="demo")
    static = evaluate_sequence(np.repeat(truth[:1], len(truth), 0), truth, visible, name="demo")
    print(f"wrote {output} (annotated) and {results}")
    print(f"success AUC vs ground truth: SimTrack {ours.auc:.1f}, first-box baseline {static.auc:.1f}")
