"""`simtrack app`: the web demo (Gradio) on this machine, with the shipped default model unless told otherwise."""

from __future__ import annotations

import argparse

from ..loading import DEFAULT_MODEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: the network)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="the app's default model: save_pretrained folder or Hub repo (default: demo model)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: where the model loads)")
    parser.add_argument("--max-frames", type=int, default=3000, metavar="N",
                        help="track at most N frames of a video (default 3000)")


def run(args: argparse.Namespace) -> None:
    """Serve the app until interrupted (no share link, no analytics); needs the [app] extra."""
    if args.max_frames < 1:
        raise ValueError(f"--max-frames must be at least 1, got {args.max_frames}")
    from ..app import launch

    launch(args.model, port=args.port, host=args.host, device=args.device, max_frames=args.max_frames)
