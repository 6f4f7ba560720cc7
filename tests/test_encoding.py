"""Browser-playable video (H.264 / VP9 through PyAV) and the annotated writer that uses it for .mp4 / .webm."""

from __future__ import annotations

import av
import numpy as np
import pytest

from simtrack_hf.io import AnnotatedVideoWriter, BrowserVideoWriter, VideoReader


def frames(count: int = 6, size: tuple[int, int] = (45, 61)) -> list[np.ndarray]:
    """Odd-sized RGB frames with a red square moving right on grey."""
    out = []
    for i in range(count):
        frame = np.full((*size, 3), 90, np.uint8)
        frame[10:30, 5 + 5 * i : 25 + 5 * i] = (230, 20, 20)
        out.append(frame)
    return out


@pytest.mark.parametrize("name, codec, muxer", [("a.mp4", "h264", "mov"), ("b.webm", "vp9", "matroska"),
                                                ("c.mov", "h264", "mov")])
def test_browser_writer_round_trip(tmp_path, name, codec, muxer):
    path = tmp_path / "sub" / name
    with BrowserVideoWriter(path, fps=12.5) as writer:
        for frame in frames():
            writer.write(frame)
    assert writer.frame_size == (61, 45) and writer.frames_written == 6
    with av.open(str(path)) as container:
        assert muxer in container.format.name
        stream = container.streams.video[0]
        assert stream.codec_context.name == codec and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (62, 46)  # odd sides padded to even for 4:2:0
        assert float(stream.average_rate) == pytest.approx(12.5)
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 6
    for original, back in zip(frames(), decoded):
        assert np.abs(back[:45, :61].astype(int) - original).mean() < 6  # lossy, but the same picture
        assert np.abs(back[:45, 61].astype(int) - back[:45, 60]).mean() < 10  # padding repeats the last column


def test_mp4_puts_its_index_first_so_browsers_start_playing_early(tmp_path):
    path = tmp_path / "fast.mp4"
    with BrowserVideoWriter(path, fps=25) as writer:
        for frame in frames(3):
            writer.write(frame)
    head = path.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_browser_writer_errors(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        BrowserVideoWriter(tmp_path / "x.avi", fps=10)
    with pytest.raises(ValueError, match="fps"):
        BrowserVideoWriter(tmp_path / "x.mp4", fps=0)
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(OSError, match="dir.mp4"):
        BrowserVideoWriter(tmp_path / "dir.mp4", fps=10, frame_size=(32, 32))
    writer = BrowserVideoWriter(tmp_path / "size.mp4", fps=10)
    writer.write(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="frame 1 is 33x32"):
        writer.write(np.zeros((32, 33, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        writer.write(np.zeros((32, 32), np.uint8))
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    BrowserVideoWriter(tmp_path / "none.mp4", fps=10, frame_size=(32, 32)).close()
    assert not (tmp_path / "none.mp4").exists()  # no frame, no file


def test_annotated_mp4_is_h264_and_reads_back(tmp_path):
    path = tmp_path / "tracked.mp4"
    with AnnotatedVideoWriter(path, fps=10) as writer:
        for i, frame in enumerate(frames()):
            writer.write(frame, [[5 + 5 * i, 10, 20, 20]], scores=[0.9], ids=[1])
    assert writer.fourcc is None
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    back = list(VideoReader(path))
    assert len(back) == 6 and back[0].shape == (46, 62, 3)
