"""The templates a config holds (``unique_id``, ``attachment_url``, ``artifact_url``): filling one.

Templates are Python format strings over named fields (``{file_name}``, ``{frame:06d}``);
:mod:`prelabel.config.load` checks them when the config loads, the writers and the artifact
store fill them here.
"""

from __future__ import annotations

import string
from typing import Any

from prelabel.errors import PayloadError

# the fields an artifact_url template can use (prelabel.output.artifacts.ArtifactStore)
ARTIFACT_FIELDS = frozenset({"name", "stem", "sha256"})


class _Fields(dict[str, Any]):
    """Template fields; a missing one raises a KeyError naming it."""


def render_template(template: str, fields: dict[str, Any], *, what: str) -> str:
    """Fill ``{name}`` / ``{name:06d}`` placeholders; a missing field is a PayloadError."""
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
