"""Codecs and containers: frames to MP4 and JPEG, and files back to frames. Nothing else knows
about codecs."""

from reelgate.errors import EncodeError
from reelgate.media.encode import Mp4Writer
from reelgate.media.poster import jpeg_bytes
from reelgate.media.probe import VideoInfo, decode_frames, probe

__all__ = ["EncodeError", "Mp4Writer", "VideoInfo", "decode_frames", "jpeg_bytes", "probe"]
