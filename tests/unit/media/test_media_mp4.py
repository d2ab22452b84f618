"""MP4 files as players see them (CONTRACT.md 4.1): H.264, yuv420p, 24 fps, exact frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reelgate.media import EncodeError, Mp4Writer, decode_frames, probe
from reelgate.media.probe import top_level_boxes


def _frame(index: int, width: int, height: int) -> np.ndarray:
    """A moving colour gradient: smooth like rendered frames, different on every frame."""
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    red = (xs + index * 4) % 256 + ys * 0
    green = ys + xs * 0
    blue = 255 - (xs + ys) / 2
    return np.dstack([red, green, blue]).astype(np.uint8)


def _write(path: Path, width: int, height: int, count: int) -> None:
    with Mp4Writer(path, width, height) as writer:
        for index in range(count):
            writer.write(_frame(index, width, height))


@pytest.mark.parametrize(
    ("width", "height", "seconds"), [(1280, 720, 2), (720, 1280, 1), (1584, 672, 1)]
)
def test_mp4_has_exact_size_rate_frame_count_and_faststart(
    tmp_path: Path, width: int, height: int, seconds: int
) -> None:
    path = tmp_path / "clip.mp4"
    _write(path, width, height, seconds * 24)
    info = probe(path)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (width, height)
    assert info.fps == Fraction(24)
    assert info.frames == seconds * 24
    assert info.duration == pytest.approx(seconds, abs=1e-6)
    assert info.faststart


def test_decoding_gives_back_every_frame_in_order_and_in_colour(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _write(path, 640, 360, 30)
    decoded = list(decode_frames(path))
    assert len(decoded) == 30
    for index in (0, 13, 29):
        original = _frame(index, 640, 360).astype(np.float64)
        error = np.abs(decoded[index].astype(np.float64) - original)
        assert error.mean() < 3  # colour matrix and range round-trip, crf 20 barely touches it
    assert decoded[0].shape == (360, 640, 3)
    assert decoded[0].dtype == np.uint8


def test_the_stream_says_which_colour_matrix_it_uses(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _write(path, 320, 240, 4)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert int(frame.colorspace) == 6  # BT.601 (SMPTE 170M), what the writer converts with
        assert int(frame.color_range) == 1  # limited ("MPEG") range


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280)])
def test_the_same_frames_make_the_same_file(tmp_path: Path, width: int, height: int) -> None:
    _write(tmp_path / "a.mp4", width, height, 24)
    _write(tmp_path / "b.mp4", width, height, 24)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_faststart_is_told_apart_from_an_index_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "plain.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(_frame(index, 64, 64), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    assert top_level_boxes(path).index("mdat") < top_level_boxes(path).index("moov")
    assert not probe(path).faststart


def test_wrong_frames_and_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        Mp4Writer(tmp_path / "odd.mp4", 641, 360)
    with Mp4Writer(tmp_path / "a.mp4", 320, 240) as writer:
        with pytest.raises(ValueError, match="expected"):
            writer.write(np.zeros((240, 321, 3), np.uint8))
        with pytest.raises(ValueError, match="expected"):
            writer.write(np.zeros((240, 320, 3), np.float32))
        writer.write(_frame(0, 320, 240))
    with pytest.raises(ValueError, match="closed"):
        writer.write(_frame(1, 320, 240))
    assert probe(tmp_path / "a.mp4").frames == 1


class _BrokenWriter(Mp4Writer):
    def _encode(self, planes: np.ndarray) -> None:
        raise RuntimeError("encoder exploded")


def test_an_encoder_failure_on_the_encoding_thread_reaches_the_caller(tmp_path: Path) -> None:
    writer = _BrokenWriter(tmp_path / "broken.mp4", 320, 240)
    writer.write(_frame(0, 320, 240))
    with pytest.raises(EncodeError, match="encoder exploded"):
        writer.close()
    with pytest.raises(EncodeError):
        writer.close()  # still failed, and still safe to call


class _Cancelled(Exception):
    pass


def _cancel_midway(path: Path, writers: list[Mp4Writer]) -> None:
    with Mp4Writer(path, 320, 240) as writer:
        writers.append(writer)
        for index in range(30):
            writer.write(_frame(index, 320, 240))
        raise _Cancelled


def test_a_cancel_inside_the_writer_propagates_without_finishing_the_file(tmp_path: Path) -> None:
    writers: list[Mp4Writer] = []
    with pytest.raises(_Cancelled):
        _cancel_midway(tmp_path / "cancelled.mp4", writers)
    with pytest.raises(ValueError, match="closed"):
        writers[0].write(_frame(0, 320, 240))
