"""The templates a config holds (``unique_id``, ``attachment_url``, ``artifact_url``): filling one.

Templates are Python format strings over named fields (``{file_name}``, ``{frame:06d}``);
:mod:`prelabel.config.load` checks them when the config loads, the writers and the artifact
store fill them here.
"""

from __future__ import annotations

import functools
import string
from typing import Any
from urllib.parse import quote

from prelabel.errors import PayloadError

# the fields an artifact_url template can use (prelabel.output.artifacts.ArtifactStore)
ARTIFACT_FIELDS = frozenset({"name", "stem", "sha256"})


class _Fields(dict[str, Any]):
    """Template fields; a missing one raises a KeyError naming it."""


# a template's parts as string.Formatter.parse gives them: (literal, name, spec, conversion)
Parts = tuple[tuple[str, str | None, str | None, str | None], ...]


@functools.lru_cache(maxsize=64)
def _plain_parts(template: str) -> Parts | None:
    """The template's parts when each field is a plain name with a plain spec (what
    configs hold: ``{file_name}``, ``{frame:06d}``), else None (the full formatter decides)."""
    try:
        parts = tuple(string.Formatter().parse(template))
    except ValueError:
        return None
    for _, name, spec, conversion in parts:
        if name is not None and (not name.isidentifier() or conversion or "{" in (spec or "")):
            return None
    return parts


def render_template(template: str, fields: dict[str, Any], *, what: str) -> str:
    """Fill ``{name}`` / ``{name:06d}`` placeholders; a missing field is a PayloadError."""
    parts = _plain_parts(template)
    if parts is not None and all(name is None or name in fields for _, name, _, _ in parts):
        try:
            return "".join(
                literal if name is None else literal + format(fields[name], spec or "")
                for literal, name, spec, _ in parts
            )
        except (ValueError, TypeError):
            pass  # a spec the value does not take: the formatter says so below
    try:
        return string.Formatter().vformat(template, (), _Fields(fields))
    except KeyError as exc:
        known = ", ".join(sorted(k for k, v in fields.items() if v is not None))
        raise PayloadError(
            f"{what} template {template!r} uses {{{exc.args[0]}}}, which this item does not "
            f"have (it has: {known})"
        ) from None
    except (ValueError, IndexError) as exc:
        raise PayloadError(f"{what} template {template!r} is not valid: {exc}") from None


# what a path segment keeps as it is (RFC 3986 pchar without "%"); "/" separates segments
_SEGMENT_SAFE = "!$&'()*+,;=:@~"
# what a value right after the host keeps ("@" and ":" would change the host)
_HOST_SAFE = "!$&'()*+,;=~"
# what a query or fragment value keeps as it is ("&", "=", "+", "#" would change its meaning)
_QUERY_SAFE = "!$'()*,;:@/?~"


def _encode_path(value: str, safe: str = _SEGMENT_SAFE) -> str:
    """Each ``/``-separated segment percent-encoded; ``.`` and ``..`` segments (which would
    climb out of the template's folder) as ``%2E`` and ``%2E%2E``."""
    dots = {".": "%2E", "..": "%2E%2E"}
    return "/".join(dots.get(s) or quote(s, safe=safe) for s in value.split("/"))


def _url_part(done: str) -> str:
    """Where text appended to ``done`` (the URL so far) lands: ``"url"`` (the template
    starts with it: a field holding a whole URL, such as ``{coco_url}``), ``"host"`` (after
    ``scheme://`` before any ``/``), ``"path"`` or ``"query"`` (after ``?`` or ``#``)."""
    if not done:
        return "url"
    scheme = done.find("://")
    slash = done.find("/", scheme + 3 if scheme >= 0 else 0)
    if slash < 0:
        return "host" if scheme >= 0 else "path"
    return "query" if "?" in done[slash:] or "#" in done[slash:] else "path"


def _encode(text: str, part: str) -> str:
    if part == "path":
        return _encode_path(text)
    if part == "host":
        return _encode_path(text, _HOST_SAFE)
    if part == "query":
        return quote(text, safe=_QUERY_SAFE)
    return text


def render_url(template: str, fields: dict[str, Any], *, what: str) -> str:
    """:func:`render_template` for a URL: each field's value is percent-encoded for where
    it lands (path segments, a query value, or text after the host), so a value such as
    ``../../x`` or ``a b?.jpg`` stays a file name inside the template's folder. A field
    the template starts with (``{coco_url}``: the whole URL) is kept as it is, and so is
    every value made only of letters, digits, ``-._~/`` and the other characters a path
    allows: ordinary names are unchanged."""
    done = ""
    parts = _plain_parts(template)
    try:
        if parts is None:
            raise ValueError(template)
        for literal, name, spec, _ in parts:
            done += literal
            if name is not None:
                done += _encode(format(fields[name], spec or ""), _url_part(done))
    except (KeyError, ValueError, TypeError):
        return _render_url_fully(template, fields, what=what)
    return done


def _render_url_fully(template: str, fields: dict[str, Any], *, what: str) -> str:
    """:func:`render_url` through the full formatter (attribute and index fields, ``!r``)."""
    done = ""
    formatter = string.Formatter()
    try:
        for literal, name, spec, conversion in formatter.parse(template):
            done += literal
            if name is None:
                continue
            value = formatter.get_field(name, (), _Fields(fields))[0]
            text = format(formatter.convert_field(value, conversion), spec or "")
            done += _encode(text, _url_part(done))
    except (KeyError, ValueError, IndexError, AttributeError, TypeError):
        return render_template(template, fields, what=what)  # raises, saying what is wrong
    return done
