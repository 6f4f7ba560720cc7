#!/usr/bin/env python
"""Render the web app's example clip from two held-out photographs (H.264 .mp4 + first-frame box + ground truth).

    python scripts/make_app_example.py      # writes src/simtrack_hf/examples/fig_river{.mp4,.json,_groundtruth.txt}

A half fig cut from "Picture 0B" (Trevor "Freespace", CC-BY-4.0) moves, turns and changes size over "life"
(Aitzol Berasategi, CC-BY-4.0) with a look-alike distractor cut from the same photo and a moving camera. The photos
come from Debian's ``lomiri-wallpapers-16.04`` package (fetched by ``simtrack fetch-photos`` into the ``heldout``
split: never used for training or model selection). Everything derives from the seed, so the clip is reproducible.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from simtrack_hf.data.photos import default_photo_dir, load_photos, render_photo_sequence
from simtrack_hf.io.encoding import BrowserVideoWriter

PHOTOS = {
    "010_life_by_Aitzol_Berasategi.jpg": "life, by Aitzol Berasategi (2018), CC-BY-4.0",
    "002_Picture_0B_by_freespace.jpg": 'Picture 0B, by Trevor "Freespace" (2018), CC-BY-4.0',
}
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "src" / "simtrack_hf" / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--name", default="fig_river")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--fps", type=float, default=25.0)
    args = parser.parse_args()

    folder = default_photo_dir() / "heldout" / "lomiri-wallpapers-16.04"
    photos = load_photos([folder / name for name in PHOTOS], max_side=640)
    sequence = render_photo_sequence(photos, args.seed, num_frames=args.frames, size=(240, 320))
    if not sequence.visible.all() or sequence.cut_by_image.any():
        raise SystemExit(f"seed {args.seed}: the target is occluded or leaves the frame; pick another seed")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    video = args.output_dir / f"{args.name}.mp4"
    with BrowserVideoWriter(video, fps=args.fps) as writer:
        for frame in sequence.frames:
            writer.write(frame)
    boxes = np.round(sequence.boxes.astype(np.float64), 1)
    ground_truth = args.output_dir / f"{args.name}_groundtruth.txt"
    np.savetxt(ground_truth, boxes, fmt="%g", delimiter=",")
    meta = {
        "video": video.name,
        "box": boxes[0].tolist(),
        "ground_truth": ground_truth.name,
        "fps": args.fps,
        "seed": args.seed,
        "photos": list(PHOTOS.values()),
        "source": "Debian package lomiri-wallpapers-16.04 (held-out split of simtrack fetch-photos)",
    }
    (args.output_dir / f"{args.name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {video} ({video.stat().st_size / 1e3:.0f} kB, {len(boxes)} frames), {args.name}.json, {ground_truth.name}")


if __name__ == "__main__":
    main()
