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
from prelabel.config.rules import MAX_IMAGE_SIDE


def size_problem(width: int, height: int) -> str | None:
    """What is wrong with an image size an input declares, or None: sides must be whole
    pixels above 0 and at most :data:`~prelabel.config.rules.MAX_IMAGE_SIDE` (Scale's
    attachment limit), so no declared size can ask for more memory than a task image needs."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
        return f"bad image size {width!r} x {height!r} (whole pixels above 0)"
    if max(width, height) > MAX_IMAGE_SIDE:
        return (
            f"image is {width}x{height}, but a task image is at most {MAX_IMAGE_SIDE} px a side "
            "(Scale's attachment limit)"
        )
    return None


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)``: width and height, positive integers, at most
    :data:`~prelabel.config.rules.MAX_IMAGE_SIDE` each.

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
    problem = size_problem(*size)
    if problem:
        raise ValueError(problem)
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
