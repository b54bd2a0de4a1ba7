"""Reader options several readers share, each declared once (see :mod:`prelabel.config.declare`).

A reader's options class is a frozen dataclass of :func:`~prelabel.config.declare.option`
fields; the options below are the ones more than one reader takes, so their type, parser,
flag and range are written once and each reader gives only its own help text::

    @dataclass(frozen=True, slots=True, kw_only=True)
    class YoloOptions:
        images: str | None = images("Image folder: sizes from the image headers.")
        image_size: tuple[int, int] | None = image_size("Size of every image.")

Groups shared whole (the tracking options) are base classes with a ``SECTION`` title, e.g.
:class:`~prelabel.converters.tracking.common.TrackingOptions`.
"""

from __future__ import annotations

from typing import Any

from prelabel.config.declare import PathKind, option


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)``: width and height, positive integers.

    Raises:
        ValueError: the text is not ``WxH`` with positive integers (the message says so).
    """
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
        if not sep or min(size) <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"expected WxH with positive integers, got {text!r}") from None
    return size


def image_size(help: str) -> Any:
    """``--image-size WxH``: the ``(width, height)`` of every image or frame."""
    return option(None, metavar="WxH", parse=parse_size, help=help)


def images(help: str, *, path: PathKind = "dir") -> Any:
    """``-i/--images``: where the images are (a folder unless ``path`` says otherwise)."""
    return option(None, short="-i", path=path, help=help)


def fps(help: str) -> Any:
    """``--fps``: frames per second, a number above 0."""
    return option(None, low=0, low_open=True, help=help)
