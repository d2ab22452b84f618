"""Frames to an H.264 MP4: libx264, yuv420p, `+faststart`, exactly one frame per 1/fps second.

Colour: frames are converted with OpenCV's RGB to I420 (BT.601, limited range), which is several
times faster than swscale, and the stream is tagged BT.601 so players decode it as such (an
untagged HD stream is assumed BT.709 and would come out slightly off in hue).

Speed: encoding dominates a synthetic clip's cost on a CPU. The default is x264's `ultrafast`
preset with the tools that pay for themselves added back: CABAC, two B-frames, deblocking,
quarter-pixel motion search and adaptive quantisation (without it, sky gradients band), on
x264's frame threads. Encoding runs on a thread of its own, so a caller that renders frames
overlaps with it (bench/bench_render.py).

Reproducibility: the same frames make a byte-identical file, so the same request and seed give
the same video. That rules out macroblock-tree rate control: with it x264 reads memory it has
not initialised (measured: the same frames gave a different file after the process's heap had
been churned, at every thread count). Without it, `crf` 22 gives the picture quality (PSNR) that
`crf` 20 gives with it, and is visually clean.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from reelgate.core.tasks import FPS
from reelgate.errors import EncodeError

Frame = npt.NDArray[np.uint8]

CRF = 22
PRESET = "ultrafast"
X264_PARAMS = "cabac=1:bframes=2:b-adapt=0:mbtree=0:deblock=1,0,0:subme=1:aq-mode=1"
_BT601 = 6  # AVCOL_PRI / AVCOL_TRC / AVCOL_SPC value of SMPTE 170M (BT.601 525)
_QUEUE_FRAMES = 8  # frames in flight between the caller and the encoder thread (~11 MB at 720p)


class Mp4Writer:
    """Write RGB frames of one size to an MP4, as a context manager.

    `write` takes `(height, width, 3)` uint8 RGB frames; `close` (or leaving the `with` block)
    flushes the encoder and writes the index at the front of the file; leaving the block with an
    exception aborts instead. Width and height must be even (yuv420p); every contract size is.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: int = FPS,
        *,
        crf: int = CRF,
        preset: str = PRESET,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"frame size must be positive and even, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self._container: Any = av.open(
            str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        stream = self._container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": str(crf), "preset": preset, "x264-params": X264_PARAMS}
        context = stream.codec_context
        context.thread_type = "FRAME"  # x264's frame threads, not PyAV's default slices
        context.color_range = 1  # MPEG (limited) range, what COLOR_RGB2YUV_I420 produces
        context.colorspace = context.color_primaries = context.color_trc = _BT601
        self._stream = stream
        self._pts = 0
        self._closed = False
        self._aborted = False
        self._error: Exception | None = None
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=_QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._drain, name="mp4-encode", daemon=True)
        self._thread.start()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: Frame) -> None:
        """Append one frame; raises `EncodeError` if the encoder has failed."""
        if self._closed:
            raise ValueError("write to a closed Mp4Writer")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 frame, "
                f"got {frame.shape} {frame.dtype}"
            )
        self._raise_if_failed()
        self._queue.put(np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), np.uint8))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stop at once without finishing the video: the caller failed or the task was cancelled.

        Frames still queued are dropped rather than encoded, so a cancel is not held up by the
        encoder; what is left on disk is an incomplete file for the caller to discard.
        """
        if self._closed:
            return
        self._closed = self._aborted = True
        self._queue.put(None)
        self._thread.join()

    def _drain(self) -> None:
        """The encoder thread: every libav and x264 call happens here."""
        while (planes := self._queue.get()) is not None:
            self._step(self._encode, planes)
        self._step(self._flush)
        if self._error is None and not self._aborted:
            self._step(self._container.close)
        else:
            with contextlib.suppress(Exception):  # an unfinished container may refuse to close
                self._container.close()

    def _step(self, work: Callable[..., None], *args: Any) -> None:
        # After a failure or an abort the remaining frames are taken but dropped, so that the
        # caller never blocks on a full queue.
        if self._error is None and not self._aborted:
            try:
                work(*args)
            except Exception as error:  # handed over to the caller's thread by write/close
                self._error = error

    def _encode(self, planes: Frame) -> None:
        picture = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        picture.pts = self._pts  # in the stream's 1/fps time base: the frame number
        self._pts += 1
        for packet in self._stream.encode(picture):
            self._container.mux(packet)

    def _flush(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise EncodeError(f"encoding {self.path} failed: {self._error}") from self._error
