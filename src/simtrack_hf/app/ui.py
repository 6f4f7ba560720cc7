"""The Gradio page: pick a video, mark targets on its first frame, track, and look at the results.

Handlers only translate between the page and `simtrack_hf.app.core`; a bad input becomes one line in the page
(an error notice and the status line), never a traceback, and the app keeps serving.
"""

from __future__ import annotations

import atexit
import html
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from ..examples import EXAMPLES_DIR, example_clips  # noqa: E402
from .core import (  # noqa: E402
    BACKENDS,
    BOX_COLUMNS,
    DEFAULT_MODEL,
    AppError,
    ModelCache,
    RunFolders,
    ServerLimits,
    corners_to_box,
    draw_targets,
    one_line,
    parse_boxes,
    probe_video,
    run_tracking,
    score_figure,
    table_rows,
)

logger = logging.getLogger(__name__)

INTRO = """# SimTrack: single-object tracking
Upload a video (or pick the example clip), **click two opposite corners of each target** on the first frame
(the boxes appear in the table, where you can edit them), then press **Track**."""

# A file the browser cannot preview (e.g. .avi) uploads and tracks all the same: the page drops the preview's error
# event before Gradio turns it into a red "Video not playable" notice, and the status line says so instead.
BROWSER_PLAYABLE = (".mp4", ".m4v", ".webm", ".ogg", ".ogv")
HEAD = """<script>
window.addEventListener("error", (event) => {
  const video = event.target;
  if (video instanceof HTMLVideoElement && video.closest("#video-input")) event.stopPropagation();
}, true);
</script>"""

# System fonts only: the page loads nothing from other sites.
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _text(message: str) -> str:
    """``message`` safe to show as HTML (notices render HTML; file names and typed text must not)."""
    return html.escape(message, quote=False)


def _error(err: AppError) -> gr.Error:
    """A page notice for a bad input."""
    return gr.Error(_text(str(err)), print_exception=False)


def _fresh_state() -> dict[str, Any]:
    return {"frame": None, "size": None, "corner": None}


def build_app(
    default_model: str = DEFAULT_MODEL,
    *,
    device: str | None = None,
    limits: ServerLimits = ServerLimits(),
    output_root: str | os.PathLike | None = None,
) -> gr.Blocks:
    """The app's `gr.Blocks` (call ``.launch()``) within `limits`; each run's results go to a folder of
    ``demo.runs`` (a `RunFolders` under ``output_root``, default a new temp folder; ``demo.runs.close()`` deletes
    it)."""
    models = ModelCache(default_model, device=device, model_root=limits.model_root, allow_hub=limits.allow_hub)
    runs = RunFolders(limits.keep_runs, limits.keep_minutes, output_root)
    max_frames = limits.max_frames
    examples = {clip.video.name: clip.box for clip in example_clips()}

    def load_video(path: str | None, state: dict[str, Any]) -> tuple:
        """A new video: show its first frame and start with no targets (the example clip comes with its box)."""
        state = _fresh_state()
        if not path:
            return None, [], state, ""
        try:
            info = probe_video(path, limits.max_pixels)
        except AppError as err:
            gr.Warning(_text(str(err)))
            return None, [], state, f"**Cannot use this file:** {_text(str(err))}"
        state.update(frame=info.first_frame, size=(info.width, info.height))
        rows = [examples[Path(path).name]] if Path(path).name in examples else []
        note = " The example's target is marked; add more or track." if rows else ""
        limit = (
            f" Only the first {max_frames} frames will be tracked (the app's limit)."
            if info.num_frames and info.num_frames > max_frames else ""
        )
        preview = ("" if Path(path).suffix.lower() in BROWSER_PLAYABLE else
                   " Your browser cannot preview this file type; it is tracked all the same.")
        return (draw_targets(info.first_frame, rows), rows, state,
                _text(info.describe()) + "." + note + limit + preview)

    def add_corner(rows: Any, state: dict[str, Any], evt: gr.SelectData) -> tuple:
        """A click on the first frame: the first corner of a box, or the second one, which adds the box."""
        if state.get("frame") is None:
            return gr.skip(), rows, state, "Upload a video first."
        boxes = _drawable(rows)
        point = [float(evt.index[0]), float(evt.index[1])]
        if state["corner"] is None:
            state["corner"] = point
            message = f"First corner at ({point[0]:.0f}, {point[1]:.0f}): click the opposite corner."
        else:
            box = corners_to_box(state["corner"], point)
            state["corner"] = None
            if box[2] < 1 or box[3] < 1:
                message = "That box has zero size: click two different corners."
            else:
                boxes.append(box)
                message = f"Target {len(boxes)}: x={box[0]:.0f}, y={box[1]:.0f}, w={box[2]:.0f}, h={box[3]:.0f}."
        return draw_targets(state["frame"], boxes, state["corner"]), boxes, state, message

    def redraw(rows: Any, state: dict[str, Any]) -> tuple:
        """The table was edited: redraw the boxes (and say what is wrong with them, if anything)."""
        if state.get("frame") is None:
            return gr.skip(), ""
        width, height = state["size"]
        try:
            boxes = parse_boxes(rows, width, height).tolist()
            message = f"{len(boxes)} target(s)."
        except AppError as err:
            boxes = _drawable(rows)
            message = f"**Check the boxes:** {_text(str(err))}"
        return draw_targets(state["frame"], boxes, state["corner"]), message

    def remove_last(rows: Any, state: dict[str, Any]) -> tuple:
        boxes = _drawable(rows)[:-1]
        state["corner"] = None
        image = draw_targets(state["frame"], boxes) if state.get("frame") is not None else None
        return image, boxes, state

    def clear(state: dict[str, Any]) -> tuple:
        state["corner"] = None
        return (draw_targets(state["frame"], []) if state.get("frame") is not None else None), [], state

    def track(
        path: str | None, rows: Any, source: str, location: str, backend: str, attention_every: float,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple:
        """Track the table's boxes through the video; return the video, plot, downloads and attention choices."""
        try:
            every = int(attention_every or 0)
            if every < 0:
                raise AppError("attention maps every N frames: N must be 0 (none) or more")
            info = probe_video(path, limits.max_pixels)
            boxes = parse_boxes(rows, info.width, info.height)
            progress(0, desc="loading the model")
            tracker, model = models.get(source, location, backend)

            def report(done: int, total: int | None) -> None:
                progress((done, total), desc="tracking", unit="frames")

            run = run_tracking(
                tracker, info, boxes, runs.new(), model=model, max_frames=max_frames, attention_every=every,
                max_attention_maps=limits.max_attention_maps, progress=report,
            )
        except AppError as err:
            raise _error(err) from None
        except Exception as err:  # an unforeseen failure: one line in the page, the traceback in the server log
            logger.exception("tracking failed")
            raise gr.Error(_text(f"tracking failed: {one_line(err)}"), print_exception=False) from None
        if run.truncated:
            gr.Warning(_text(f"Only the first {max_frames} frames were tracked (the app's frame limit)."))
        frames = sorted(run.attention)
        step = frames[1] - frames[0] if len(frames) > 1 else every or 1  # widened when the run had too many
        slider = gr.update(
            minimum=frames[0] if frames else 0, maximum=frames[-1] if frames else 1, step=step,
            value=frames[0] if frames else 0, interactive=bool(frames), visible=True,
        )
        maps = {index: str(p) for index, p in run.attention.items()}
        first_maps = maps[frames[0]] if frames else None
        status = _text(run.summary(max_frames) + (f" {run.attention_note}" if run.attention_note else ""))
        return (
            str(run.video), score_figure(run), [str(p) for p in run.downloads], status, slider, first_maps,
            _attention_caption(frames[0] if frames else None, step), maps,
        )

    def show_attention(frame: float, maps: dict[int, str]) -> tuple:
        """The attention maps computed nearest to the chosen frame."""
        if not maps:
            return None, "No attention maps: track with the torch backend and N > 0."
        keys = sorted(maps)
        nearest = min(keys, key=lambda k: abs(k - float(frame or 0)))
        step = keys[1] - keys[0] if len(keys) > 1 else 0
        if not os.path.isfile(maps[nearest]):
            return None, (f"The attention maps of this run were deleted (the server keeps the results of "
                          f"{limits.keep_runs} runs for {limits.keep_minutes:g} minutes): track again.")
        return maps[nearest], _attention_caption(nearest, step)

    # uploads and Gradio's copies of the results: checked every minute, deleted after keep_minutes and at shutdown
    age = max(1, round(60 * limits.keep_minutes))
    with gr.Blocks(title="SimTrack tracking demo", delete_cache=(min(60, age), age)) as demo:
        state = gr.State(_fresh_state())
        attention_maps = gr.State({})
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                video_in = gr.Video(label="Video", sources=["upload"], include_audio=True, elem_id="video-input")
                if examples:
                    example_inputs = gr.Examples(
                        examples=[[str(EXAMPLES_DIR / name)] for name in examples], inputs=[video_in],
                        label="Example clip (made from real photographs)", cache_examples=False,
                    )
                with gr.Accordion("Model and options", open=False):
                    sources = limits.sources
                    source = gr.Radio(list(sources), value=sources[0], label="Model", visible=len(sources) > 1)
                    location = gr.Textbox(
                        label="Model folder or Hub id", placeholder="folder name or organisation/name",
                        info="A folder under the server's model root, or a Hub id (needs a connection, or the cache).",
                        visible=len(sources) > 1,
                    )
                    backend = gr.Radio(list(BACKENDS), value=BACKENDS[0], label="Backend",
                                       info="onnxruntime needs a folder written by `simtrack export-onnx`.")
                    attention_every = gr.Number(value=10, precision=0, minimum=0, label="Attention maps every N frames",
                                                info="0 turns them off; each costs one extra forward.")
            with gr.Column(scale=1):
                first_frame = gr.Image(
                    label="First frame: click two opposite corners of each target", type="numpy",
                    interactive=False, elem_id="first-frame", buttons=[], height=360,
                )
                boxes = gr.Dataframe(
                    headers=list(BOX_COLUMNS), datatype="number", type="array",
                    interactive=True, show_row_numbers=True, label="Targets: x, y, w, h in pixels (editable)",
                    elem_id="boxes", value=[],
                )
                with gr.Row():
                    undo = gr.Button("Remove last target", size="sm")
                    reset = gr.Button("Clear targets", size="sm")
        track_button = gr.Button("Track", variant="primary", elem_id="track-button")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            video_out = gr.Video(label="Tracked video", interactive=False, elem_id="tracked-video", autoplay=False)
            plot = gr.Plot(label="Score per frame", show_label=False, elem_id="score-plot")
        with gr.Row():
            with gr.Column(scale=1):
                frame_choice = gr.Slider(0, 1, step=1, label="Attention maps of frame", interactive=False)
                attention_caption = gr.Markdown()
                downloads = gr.File(label="Downloads: boxes (.txt per target, .json), score plot",
                                    file_count="multiple", interactive=False, elem_id="downloads")
            attention_image = gr.Image(label="Target attention over the search region, per layer", type="filepath",
                                       interactive=False, elem_id="attention")

        page_only = {"api_visibility": "private"}  # steps of the page only; the API is "/track"
        loaded = [first_frame, boxes, state, status]
        video_in.upload(load_video, [video_in, state], loaded, **page_only)
        video_in.clear(load_video, [video_in, state], loaded, **page_only)
        if examples:
            example_inputs.load_input_event.then(load_video, [video_in, state], loaded, **page_only)
        first_frame.select(add_corner, [boxes, state], [first_frame, boxes, state, status], **page_only)
        boxes.input(redraw, [boxes, state], [first_frame, status], **page_only)
        undo.click(remove_last, [boxes, state], [first_frame, boxes, state], **page_only)
        reset.click(clear, [state], [first_frame, boxes, state], **page_only)
        track_button.click(
            track, [video_in, boxes, source, location, backend, attention_every],
            [video_out, plot, downloads, status, frame_choice, attention_image, attention_caption, attention_maps],
            api_name="track", concurrency_limit=1,
        )
        frame_choice.release(
            show_attention, [frame_choice, attention_maps], [attention_image, attention_caption], **page_only
        )
    demo.runs = runs  # where results are written (the launcher allows Gradio to serve it)
    return demo


def _drawable(rows: Any) -> list[list[float]]:
    """The table's rows that are four finite numbers (what can be drawn while the user is still typing)."""
    boxes = []
    for row in table_rows(rows):
        try:
            box = [float(v) for v in row]
        except (TypeError, ValueError):
            continue
        if len(box) == 4 and all(np.isfinite(box)):
            boxes.append(box)
    return boxes


def _attention_caption(frame: int | None, every: int) -> str:
    if frame is None:
        return "No attention maps for this run."
    step = f" (computed every {every} frames)" if every else ""
    return f"Frame {frame}{step}: one tile per layer; several targets side by side."


def launch(
    default_model: str = DEFAULT_MODEL,
    *,
    port: int | None = None,
    host: str | None = None,
    device: str | None = None,
    limits: ServerLimits = ServerLimits(),
    block: bool = True,
) -> gr.Blocks:
    """Start the app on ``host:port`` (no share link) within `limits`; with ``block=False`` return once it serves
    (then ``demo.close()`` and ``demo.runs.close()`` stop it and delete its results; at exit they are deleted anyway).

    Blocking, it serves until Ctrl+C or SIGTERM, then deletes every result and upload it kept. Without ``host`` /
    ``port`` Gradio reads ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` (set on a Space), else serves on
    127.0.0.1:7860.
    """
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on each model load
    demo = build_app(default_model, device=device, limits=limits)
    atexit.register(demo.runs.close)
    demo.queue(default_concurrency_limit=1).launch(  # quiet: no "set share=True" advice for a local app
        server_name=host, server_port=port, share=False, ssr_mode=False, theme=THEME, show_error=False, head=HEAD,
        allowed_paths=[str(EXAMPLES_DIR), str(demo.runs.root)], prevent_thread_lock=True, quiet=True,
        max_file_size=limits.max_upload_mb * 1024 * 1024,
    )
    if block:
        if threading.current_thread() is threading.main_thread():  # SIGTERM (a service stop) cleans up as Ctrl+C
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print(f"SimTrack app on {demo.local_url} (Ctrl+C to stop)", flush=True)
        try:
            demo.block_thread()
        finally:
            demo.close(verbose=False)  # Gradio deletes the uploads and copies it kept
            demo.runs.close()
    return demo
