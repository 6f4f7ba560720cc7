"""A video tracked into files, written as each frame is tracked: the annotated video, one results file per target
and attention-map grids (what `simtrack track` and `simtrack demo` write; the loop is
`simtrack_hf.tracking_simtrack.track_videos`)."""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import Any

import numpy as np

from ..io.boxes import format_results
from ..io.frames import open_frames
from ..io.writers import AnnotatedVideoWriter, save_attention_grid
from ..tracking_simtrack import SimTrackSession, track_videos
from .attention import attention_maps

__all__ = ["target_results_paths", "track_to_files"]


def target_results_paths(path: str, num_targets: int) -> list[str]:
    """`path` for one target, else `NAME_1.txt`, `NAME_2.txt`, ... beside it (one results file per target)."""
    if num_targets == 1:
        return [path]
    stem, suffix = os.path.splitext(path)
    return [f"{stem}_{k}{suffix or '.txt'}" for k in range(1, num_targets + 1)]


def track_to_files(
    tracker: SimTrackSession,
    source: Any,
    boxes: Any,
    *,
    output: str | None = None,
    results: str | None = None,
    attention_dir: str | None = None,
    attention_every: int = 10,
    progress: bool = True,
    start_frame: int = 0,
    max_frames: int | None = None,
) -> int:
    """Track `boxes` ((4,) or (N, 4) `[x, y, w, h]` on frame `start_frame`) through `source` (video file, image
    folder, camera index or frames) from that frame on, `max_frames` frames at most; returns the number of frames
    tracked.

    Writes, frame by frame: `output` (the annotated video), `results` (one ``x,y,w,h`` line per frame; several
    targets: `target_results_paths`) and, in `attention_dir`, the target attention grid ``frame_%06d.png`` of
    every `attention_every`-th frame (PyTorch backend). An unreadable frame stops the run with what was tracked
    before it kept (ValueError naming the frame).
    """
    from tqdm import tqdm

    num_targets = len(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    results_paths = target_results_paths(results, num_targets) if results else []
    if attention_dir:
        os.makedirs(attention_dir, exist_ok=True)
    count = 0
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open(path, "w")) for path in results_paths]
        frames = stack.enter_context(open_frames(source))
        total = frames.num_frames
        if total is not None and start_frame >= total:
            raise ValueError(f"start frame {start_frame} is past the end of the video ({total} frames)")
        if total is not None or max_frames is not None:
            total = min(n for n in (total and total - start_frame, max_frames) if n is not None)
        selected = itertools.islice(frames, start_frame, None if max_frames is None else start_frame + max_frames)
        writer = stack.enter_context(AnnotatedVideoWriter(output, fps=frames.fps or 30)) if output else None
        bar = stack.enter_context(tqdm(total=total, unit="frame", desc="tracking", disable=not progress))
        inspect = attention_maps if attention_dir else None
        try:
            for tracked in track_videos([(tracker, selected, boxes)], inspect=inspect, inspect_every=attention_every):
                result = tracked.result
                if tracked.inspection is not None:
                    maps, crops = tracked.inspection
                    path = os.path.join(attention_dir, f"frame_{result.frame_index:06d}.png")
                    save_attention_grid(maps[0], crops[0], path)
                for target, file in enumerate(files):
                    file.write(format_results(result.boxes[target : target + 1]))
                    file.flush()
                if writer:
                    writer.write(tracked.frame, result.boxes, result.scores, lost=result.lost)
                count += 1
                bar.update(1)
        except (ValueError, OSError) as error:
            written = ", ".join(results_paths)
            kept = f"; the {count} frames tracked before it are in {written}" if files and count else ""
            raise ValueError(f"frame {count}: {error}{kept}") from error
    return count
