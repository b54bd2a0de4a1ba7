"""``DIR/artifacts/``: the files task bodies reference, and the ``artifact://`` scheme.

With ``artifact_url`` set, a body holds the final URL of each file (the user hosts the
folder); otherwise it holds ``artifact://NAME``, which ``prelabel submit`` uploads and
replaces. :class:`ArtifactStore` writes the files and makes the references;
:class:`ArtifactFiles` resolves a reference back to its file (for validate and review);
:func:`artifact_refs` lists the ``artifact://`` references of a body (for submit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from prelabel.config.templates import render_url
from prelabel.errors import PayloadError
from prelabel.output.layout import create_file, own_dir, safe_path

ARTIFACT_SCHEME = "artifact://"


@dataclass(slots=True)
class ArtifactStore:
    """Files the task bodies reference by URL, written under ``DIR/artifacts`` or, with no
    ``root``, kept in memory (``files``: name -> bytes, for :class:`prelabel.Task`).

    With ``artifact_url`` set, a body holds the final URL (the user hosts the files);
    otherwise it holds ``artifact://NAME``, which ``prelabel submit`` uploads and replaces.
    Either way the reference depends only on the name and the bytes, so a directory and a
    task in memory hold the same bodies.
    """

    root: Path | None
    url_template: str | None = None
    written: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # the files, with no folder
    _names: set[str] = field(default_factory=set)  # what ``written`` holds, for lookups
    _folders: set[str] = field(default_factory=set)  # folders the written names made

    def add(self, name: str, data: bytes) -> str:
        """Write ``data`` as ``artifacts/NAME`` (or keep it) and return the body's reference.

        ``name`` is made safe first (:func:`~prelabel.output.layout.safe_path`: it cannot
        leave ``artifacts/``); the reference names the file as written.

        Raises:
            PayloadError: two tasks make the same file name, or one's file is another's
                folder (their keys differ only in characters a file name cannot hold).
            EnvironmentFailure: the file cannot be written (permissions, a full disk).
        """
        return self.add_chunks(name, (data,))

    def add_chunks(self, name: str, chunks: Iterable[bytes]) -> str:
        """:meth:`add` for data made a chunk at a time (written as it comes, never whole in
        memory when the store has a folder)."""
        name = self.claim(name)
        if self.root is None:
            self.files[name] = b"".join(chunks)
        else:
            with create_file(self.root / name) as fh:
                for chunk in chunks:
                    fh.write(chunk)
        return self.reference(name)

    def claim(self, name: str) -> str:
        """The safe form of ``name``, its folders made (never through a link) and the name
        recorded as written; a name another file of this run holds, or whose folder is
        one, is a PayloadError."""
        name = safe_path(name)
        parts = name.split("/")
        folders = ["/".join(parts[: n + 1]) for n in range(len(parts) - 1)]
        clash = next((f for f in [name, *folders] if f in self._names), None)
        if clash is not None or name in self._folders:
            raise PayloadError(
                f"two tasks write the artifact {clash or name!r}: the item keys it is made "
                "from must differ in more than characters a file name cannot hold"
            )
        if self.root is not None:
            folder = own_dir(self.root)
            for part in parts[:-1]:
                folder = own_dir(folder / part)
        self._folders.update(folders)
        self._names.add(name)
        self.written.append(name)
        return name

    def discard(self, since: int) -> None:
        """Delete the files written after the first ``since`` (those of a task left out)."""
        for name in self.written[since:]:
            if self.root is None:
                self.files.pop(name, None)
            else:
                (self.root / name).unlink(missing_ok=True)
            self._names.discard(name)
        del self.written[since:]

    def reference(self, name: str) -> str:
        """What a body holds for the stored file ``NAME``."""
        if self.url_template is None:
            return ARTIFACT_SCHEME + name
        data = self.files[name] if self.root is None else (self.root / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:16]
        return render_url(
            self.url_template,
            {"name": name, "stem": Path(name).stem, "sha256": digest},
            what="artifact_url",
        )


class ArtifactFiles:
    """Resolves the references bodies hold back to files under ``DIR/artifacts``.

    ``artifact://NAME`` always resolves; a hosted URL resolves exactly when the
    ``artifact_url`` template is known (every file's URL is computed once), and with
    ``by_suffix`` also by the longest file name its URL path ends with.
    """

    def __init__(self, root: Path, url_template: str | None = None, *, by_suffix: bool = False):
        self.root = root
        self.by_suffix = by_suffix
        self._by_url: dict[str, Path] | None = None
        self._store = ArtifactStore(root, url_template) if url_template else None
        self._named: list[tuple[str, Path]] | None = None

    def path(self, ref: Any) -> Path | None:
        """The file ``ref`` names, or None."""
        if not isinstance(ref, str):
            return None
        if ref.startswith(ARTIFACT_SCHEME):
            name = ref[len(ARTIFACT_SCHEME) :]
            if safe_path(name) != name:  # not a name prelabel writes: it may leave the folder
                return None
            path = self.root / name
            return path if path.is_file() else None
        found = self._hosted().get(ref)
        if found is None and self.by_suffix:
            url_path = unquote(urlsplit(ref).path)
            found = next((p for n, p in self._files() if url_path.endswith("/" + n)), None)
        return found

    def load_json(self, ref: Any) -> Any:
        """The JSON file ``ref`` names, parsed, or None when it does not resolve."""
        path = self.path(ref)
        return None if path is None else orjson.loads(path.read_bytes())

    def _files(self) -> list[tuple[str, Path]]:
        """(relative name, path) of every file, longest name first."""
        if self._named is None:
            files = [p for p in self.root.rglob("*") if p.is_file()] if self.root.is_dir() else []
            named = [(p.relative_to(self.root).as_posix(), p) for p in files]
            self._named = sorted(named, key=lambda item: -len(item[0]))
        return self._named

    def _hosted(self) -> dict[str, Path]:
        if self._by_url is None:
            store = self._store
            self._by_url = (
                {} if store is None else {store.reference(n): p for n, p in self._files()}
            )
        return self._by_url


def artifact_refs(value: Any, where: str = "body") -> Iterator[tuple[str, str]]:
    """Yield ``(field path, artifact name)`` for every ``artifact://NAME`` string in ``value``."""
    if isinstance(value, str):
        if value.startswith(ARTIFACT_SCHEME):
            yield where, value[len(ARTIFACT_SCHEME) :]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from artifact_refs(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from artifact_refs(item, f"{where}[{i}]")


def substitute(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with each ``artifact://NAME`` replaced by ``urls[NAME]``."""
    if isinstance(value, str) and value.startswith(ARTIFACT_SCHEME):
        return urls[value[len(ARTIFACT_SCHEME) :]]
    if isinstance(value, dict):
        return {k: substitute(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, urls) for v in value]
    return value
