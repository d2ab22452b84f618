"""Reading MP4 files back: what a player would see (codec, size, rate, frames) and the frames."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """The first video stream of a file, as a player sees it."""

    codec: str
    width: int
    height: int
    fps: Fraction
    frames: int  # video packets in the file, each one coded picture
    pix_fmt: str
    duration: float  # seconds
    faststart: bool  # the index (moov) comes before the media data (mdat)


def top_level_boxes(path: str | Path) -> list[str]:
    """The types of the file's top-level ISO-BMFF boxes, in file order."""
    boxes: list[str] = []
    with open(path, "rb") as file:
        file.seek(0, 2)
        end = file.tell()
        offset = 0
        while offset + 8 <= end:
            file.seek(offset)
            size, kind = struct.unpack(">I4s", file.read(8))
            if size == 1:
                (size,) = struct.unpack(">Q", file.read(8))
            elif size == 0:
                size = end - offset
            boxes.append(kind.decode("latin-1"))
            if size < 8:
                break  # a corrupt size would loop forever
            offset += size
    return boxes


def probe(path: str | Path) -> VideoInfo:
    """Describe the video stream of `path`; frames are counted from the packets, not headers."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        info = VideoInfo(
            codec=context.name,
            width=context.width,
            height=context.height,
            fps=Fraction(rate),
            frames=frames,
            pix_fmt=context.pix_fmt or "",
            duration=duration,
            faststart=False,
        )
    boxes = top_level_boxes(path)
    faststart = "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
    return replace(info, faststart=faststart)


def decode_frames(path: str | Path) -> Iterator[npt.NDArray[np.uint8]]:
    """Decode every frame of the first video stream as `(height, width, 3)` uint8 RGB."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
