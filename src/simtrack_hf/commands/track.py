"""`simtrack track` (a box through a video: annotated video, results file, attention maps) and `simtrack demo`."""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from ..loading import DEFAULT_MODEL
from .common import (
    add_dtype_argument,
    add_tracking_options_argument,
    check_writable,
    non_negative_int,
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
    parser.add_argument("--start-frame", type=non_negative_int, default=0, metavar="N",
                        help="start tracking at frame N (0-based; --box is on that frame; default 0)")
    parser.add_argument("--max-frames", type=positive_int, default=None, metavar="N",
                        help="track at most N frames (default: to the end of the video)")


def _load_tracker(model: str, backend: str | None, device: str | None, dtype: str,
                  tracking_options: dict | None) -> Any:
    """The tracker of `--model` (an export-onnx folder runs with ONNX Runtime unless `--backend` says otherwise)."""
    from ..inference.tracker import SimTrackTracker

    backend = backend or ("onnxruntime" if os.path.isfile(os.path.join(model, "model.onnx")) else "torch")
    if backend != "torch" and dtype not in ("float32", "auto"):
        raise ValueError(f"--dtype {dtype} applies to PyTorch models; an ONNX export runs as it was exported "
                         "(float32, or int8 with export-onnx --quantize int8)")
    return SimTrackTracker.from_pretrained(model, device=device, backend=backend,
                                           torch_dtype=dtype if backend == "torch" else None,
                                           tracking_options=tracking_options)


def _track_and_report(tracker: Any, source: Any, boxes: Any, **files: Any) -> None:
    """`track_to_files`, then a line with frames, seconds and FPS and one naming the files written."""
    import time

    from ..inference.video import target_results_paths, track_to_files

    started = time.perf_counter()
    count = track_to_files(tracker, source, boxes, **files)
    seconds = time.perf_counter() - started
    print(f"tracked {count} frames in {seconds:.1f} s ({count / max(seconds, 1e-9):.1f} FPS)")
    written = [f"{files['output']} (annotated video)"] if files.get("output") else []
    if files.get("results"):
        paths = target_results_paths(files["results"], len(np.asarray(boxes).reshape(-1, 4)))
        written.append(f"{', '.join(paths)} (boxes, one x,y,w,h line per frame)")
    if files.get("attention_dir"):
        maps = len([name for name in os.listdir(files["attention_dir"]) if name.endswith(".png")])
        written.append(f"{files['attention_dir']}/ ({maps} attention-map PNG)")
    print(f"wrote {'; '.join(written)}" if written else "wrote no files (give --output / --results to keep them)")


def track(args: argparse.Namespace) -> None:
    """Track a box through a video; write an annotated video, a results file and attention maps on request
    (`simtrack_hf.inference.video.track_to_files`). Output paths are checked before the model loads."""
    from ..inference.video import target_results_paths

    from ..io.paths import check_outputs

    source = int(args.video) if args.video.isdigit() and not os.path.exists(args.video) else args.video
    if isinstance(source, str) and not os.path.exists(source):
        raise FileNotFoundError(f"video file or image folder not found: {source}")
    results_paths = target_results_paths(args.results, len(args.box)) if args.results else []
    check_outputs({"input video": args.video, "model": args.model},
                  {**{"--results" + (f" (target {k})" if len(results_paths) > 1 else ""): path
                      for k, path in enumerate(results_paths, 1)},
                   "--output": args.output, "--attention-maps": args.attention_maps})
    for path in [*results_paths, args.output]:
        if path:
            check_writable(path)
    tracker = _load_tracker(args.model, args.backend, args.device, args.dtype, args.tracking_options)
    _track_and_report(tracker, source, args.box, output=args.output, results=args.results,
                      attention_dir=args.attention_maps, attention_every=args.attention_every,
                      start_frame=args.start_frame, max_frames=args.max_frames)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="save_pretrained folder or Hub repo (default: the shipped default model)")
    parser.add_argument("--output-dir", default="outputs", help="where the annotated video and boxes are written")
    parser.add_argument("--device", default=None, type=parse_device)
    add_dtype_argument(parser)


def demo(args: argparse.Namespace) -> None:
    """Track the target of the shipped example clip (held-out real photographs), score it against its truth."""
    from ..evaluation.metrics import evaluate_sequence
    from ..examples import example_clips
    from ..io.boxes import read_results

    clip = example_clips()[0]
    print(f"tracking {clip.video.name}: {len(clip.ground_truth)} frames made from held-out real photographs "
          "(the model never saw them)")
    os.makedirs(args.output_dir, exist_ok=True)
    results = os.path.join(args.output_dir, "demo_boxes.txt")
    output = os.path.join(args.output_dir, "demo_tracked.mp4")
    tracker = _load_tracker(args.model, None, args.device, args.dtype, None)
    _track_and_report(tracker, str(clip.video), clip.box, output=output, results=results)
    truth = clip.ground_truth
    visible = np.isfinite(truth).all(1)
    ours = evaluate_sequence(read_results(results), truth, visible, name="demo")
    static = evaluate_sequence(np.repeat(truth[:1], len(truth), 0), truth, visible, name="demo")
    print(f"success AUC vs ground truth: SimTrack {ours.auc:.1f}, first-box baseline {static.auc:.1f}")
