"""`simtrack app`: the web demo (Gradio) on this machine, with the shipped default model unless told otherwise.

The app is a server: the options bound what one visitor can make it do and what it keeps (see
`simtrack_hf.app.core.ServerLimits`); visitors use the app's model only, unless ``--model-root`` / ``--allow-hub``.
"""

from __future__ import annotations

import argparse

from ..loading import DEFAULT_MODEL
from .common import bounded_int, positive_int


def listen_host(text: str) -> str:
    """An address this machine can listen on (an argparse type: a bad host is blamed here, not on the port)."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(text, 0, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.bind(address)
    except (OSError, UnicodeError) as error:
        raise argparse.ArgumentTypeError(f"cannot listen on host {text!r}: {getattr(error, 'strerror', None) or error}"
                                         ) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=bounded_int(1, 65535), default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--host", default="127.0.0.1", type=listen_host,
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: the network)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="the app's model: save_pretrained folder or Hub repo (default: demo model)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: where the model loads)")
    parser.add_argument("--max-frames", type=positive_int, default=3000, metavar="N",
                        help="track at most N frames of a video (default 3000)")
    parser.add_argument("--max-pixels", type=positive_int, default=1920 * 1080, metavar="N",
                        help="refuse videos whose frames have more than N pixels (default 2073600: 1920x1080)")
    parser.add_argument("--max-attention-maps", type=positive_int, default=30, metavar="N",
                        help="attention-map images per run at most (default 30)")
    parser.add_argument("--max-upload-mb", type=positive_int, default=200, metavar="MB",
                        help="largest upload accepted (default 200 MB)")
    parser.add_argument("--keep-runs", type=positive_int, default=20, metavar="N",
                        help="keep the result files of the last N runs (default 20); all are deleted at shutdown")
    parser.add_argument("--keep-minutes", type=positive_int, default=60, metavar="M",
                        help="delete results and uploads after M minutes (default 60)")
    parser.add_argument("--model-root", default=None, metavar="DIR",
                        help="let visitors pick model folders under DIR (default: only the app's model)")
    parser.add_argument("--allow-hub", action="store_true",
                        help="let visitors name Hub model ids (each load can hold the single worker)")


def run(args: argparse.Namespace) -> None:
    """Serve the app until interrupted (no share link, no analytics); needs the [app] extra."""
    from ..app.core import ServerLimits

    limits = ServerLimits(  # checked before Gradio is imported
        max_frames=args.max_frames, max_pixels=args.max_pixels, max_attention_maps=args.max_attention_maps,
        max_upload_mb=args.max_upload_mb, keep_runs=args.keep_runs, keep_minutes=args.keep_minutes,
        model_root=args.model_root, allow_hub=args.allow_hub,
    )
    from ..app import launch

    launch(args.model, port=args.port, host=args.host, device=args.device, limits=limits)
