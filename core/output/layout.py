"""What a prelabel output directory holds, by name: the contract between convert and the rest.

``prelabel convert`` writes ``DIR/tasks.jsonl`` (one ``{"task_type", "body"}`` a line, the
body exactly the JSON of ``POST /v1/task/{task_type}``), ``DIR/artifacts/`` (files the
bodies reference), ``DIR/report.json`` (every input object's outcome) and, when asked,
``DIR/taxonomy.json``. ``validate``, ``preview``, ``report`` and ``submit`` read only these.

A **sharded** directory (what a cluster writes, :mod:`prelabel.ray`) holds the same things
split by writer: ``DIR/shards/NAME/tasks.jsonl`` and ``DIR/shards/NAME/report.json`` per
shard, one ``DIR/artifacts/``, and ``DIR/shards.json`` (the manifest: the shards in order),
written last. A plain directory is the one-shard case; :func:`output_shards` lists the
shards of either, so every reader handles both. A ``shards/`` folder without a manifest is a
job that did not finish, and is refused.
Writing into the directory follows three rules, each one function here:

- **names** (:func:`safe_name`, :func:`safe_path`): every file name made from input (an
  image id, a task's unique_id, a sequence name) is made safe here and nowhere else: it
  cannot leave the folder it is written in (no ``..``, no absolute path, no control
  character, no component too long for the file system), and an ordinary name is kept
  byte for byte;
- **links** (:func:`open_new`, :func:`create_file`, :func:`own_dir`, :func:`remove_output`):
  a file or folder prelabel names is created afresh, never opened through a symbolic link
  it did not create (a link in its place is removed, not followed); a folder the user
  names (``--out``) is the user's (:func:`make_dir`);
- **failures** (:func:`environment_failure`): the machine refusing a write (no permission,
  a full disk, a file-size limit, a file where a folder must be) is an
  :class:`~prelabel.errors.EnvironmentFailure` (exit 6) naming the path.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from prelabel.errors import EnvironmentFailure, InputError

TASKS_FILE = "tasks.jsonl"
REPORT_FILE = "report.json"
ARTIFACTS_DIR = "artifacts"
TAXONOMY_FILE = "taxonomy.json"
JOURNAL_FILE = "journal.sqlite"  # written by `submit`, never removed by `convert`
PARTIAL = ".partial"  # suffix of a file being written; renamed into place when complete
SHARDS_DIR = "shards"  # a sharded directory: one folder per shard under it
MANIFEST_FILE = "shards.json"  # ... and its manifest, written when every shard is complete
MANIFEST_KIND = "prelabel shards"
PREVIEW_DIR = "preview"  # `prelabel preview` writes here by default
REVIEW_PAGE = "review.html"  # `prelabel report` writes this page by default ...
REVIEW_PREVIEWS = "review_previews"  # ... and its previews here
# what describes one conversion: removed when the next one starts (the journal stays); the
# manifest first, so a sharded directory half removed no longer looks complete
RUN_OUTPUTS: tuple[str, ...] = (
    MANIFEST_FILE,
    SHARDS_DIR,
    TASKS_FILE,
    REPORT_FILE,
    TAXONOMY_FILE,
    ARTIFACTS_DIR,
)
RUN_OUTPUTS += (PREVIEW_DIR, REVIEW_PAGE, REVIEW_PREVIEWS, TASKS_FILE + PARTIAL)
RUN_OUTPUTS += (REPORT_FILE + PARTIAL,)

# a name component longer than this is shortened (most file systems allow 255 bytes; room
# is left for the suffixes writers add)
MAX_COMPONENT = 200
_FLAT = re.compile(r"[^A-Za-z0-9._-]+")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def _shorten(text: str, limit: int = MAX_COMPONENT) -> str:
    """``text`` when it fits in ``limit`` bytes, else its head and a digest of the whole."""
    if len(text.encode()) <= limit:
        return text
    digest = hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()[:12]
    head = text.encode()[: limit - 13].decode(errors="ignore")
    return f"{head}~{digest}"


def safe_name(text: str, fallback: str = "task") -> str:
    """A flat file name for ``text`` (a unique_id, a task key): runs of characters other
    than letters, digits, ``.``, ``_`` and ``-`` become ``_`` (``project/type/key`` ->
    ``project_type_key``); a name of dots only (or nothing) is ``fallback``."""
    name = _FLAT.sub("_", text).strip("_")
    if not name.strip("."):
        return fallback
    return _shorten(name)


def _safe_component(part: str) -> str:
    if part == "..":
        return "%2E%2E"
    part = _UNSAFE_CHARS.sub(lambda m: f"%{ord(m.group()):02X}", part)
    return _shorten(part)


def safe_path(name: str) -> str:
    """A relative path for ``name`` (an artifact name such as ``<image id>.png``) that stays
    inside the folder it is joined to.

    ``/`` separates folders. Empty and ``.`` components are left out (so an absolute path
    becomes relative), ``..`` becomes ``%2E%2E``, a backslash or control character its
    ``%XX`` escape, and a component over :data:`MAX_COMPONENT` bytes is shortened with a
    digest. Anything else is kept as it is: ``000000397133.png`` and ``seq/12.png`` are
    unchanged.
    """
    parts = [_safe_component(p) for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts) or "_"


def environment_failure(
    exc: OSError, path: str | os.PathLike[str], doing: str
) -> EnvironmentFailure:
    """The error for an OSError met while ``doing`` something to ``path`` (no permission, a
    full disk, a file-size limit, a file where a folder must be): exit 6, naming the path."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return EnvironmentFailure(f"cannot {doing}: {reason}", path=path)


def remove_output(path: Path) -> None:
    """Remove ``path`` whatever it is; a symbolic link is removed itself, never followed."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        raise environment_failure(exc, path, "remove the output of an earlier run") from None


def own_dir(path: Path) -> Path:
    """Make ``path`` a folder prelabel may write in: created (with its parents) when
    missing; a symbolic link or file in its place is removed first (never followed)."""
    try:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise environment_failure(exc, path, "create the folder") from None
    return path


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_new(path: Path) -> IO[bytes]:
    """A new file at ``path``, open for writing. Whatever was there (a symbolic link
    included) is removed first, and the file is created exclusively without following links,
    so a link planted in its place can never redirect the write.

    Raises:
        EnvironmentFailure: the file cannot be created (see :func:`environment_failure`).
    """
    try:
        if path.is_symlink() or path.exists():
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    except OSError as exc:
        raise environment_failure(exc, path, "create the file") from None
    return os.fdopen(fd, "wb")


def make_dir(path: Path) -> Path:
    """Create the folder ``path`` a user named (with its parents; a link the user gave is
    theirs to follow); an OSError becomes :func:`environment_failure`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise environment_failure(exc, path, "create the folder") from None
    return path


@contextmanager
def create_file(path: Path) -> Iterator[IO[bytes]]:
    """:func:`open_new` as a ``with`` block; an OSError while writing or closing becomes
    :func:`environment_failure` naming ``path``."""
    fh = open_new(path)
    try:
        with fh:
            yield fh
    except OSError as exc:
        raise environment_failure(exc, path, "write the file") from None


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` as a new file at ``path`` (see :func:`create_file`)."""
    with create_file(path) as fh:
        fh.write(data)


@contextmanager
def replace_atomically(path: Path) -> Iterator[IO[bytes]]:
    """Write ``path`` through a temporary file beside it, renamed over ``path`` only when
    the block succeeds: a reader sees the old file or the whole new one, never a part (a
    full disk leaves no truncated file). The temporary file is removed on failure, and an
    OSError is :func:`environment_failure` naming ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open_new(tmp) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except EnvironmentFailure as exc:
        tmp.unlink(missing_ok=True)
        raise EnvironmentFailure(exc.reason, path=path) from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise environment_failure(exc, path, "write the file") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def reset_outputs(out: Path) -> None:
    """Create the output directory ``out`` if needed and remove the outputs of an earlier
    conversion in it, plain or sharded (never a submit journal): tasks, report, taxonomy,
    artifacts, shards, and the previews and review page that described that run.

    Raises:
        EnvironmentFailure: ``out`` cannot be created, or an old output cannot be removed.
    """
    make_dir(out)
    for name in RUN_OUTPUTS:
        path = out / name
        if path.is_symlink() or path.exists():
            remove_output(path)


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard of an output directory: its ``tasks.jsonl`` and ``report.json``."""

    root: Path  # the output directory
    name: str  # "" for a plain directory's one shard

    @property
    def tasks(self) -> Path:
        return self.folder / TASKS_FILE

    @property
    def report(self) -> Path:
        return self.folder / REPORT_FILE

    @property
    def folder(self) -> Path:
        return self.root / SHARDS_DIR / self.name if self.name else self.root

    def relative(self, path: Path) -> str:
        """``path`` as messages name it: relative to the output directory."""
        return path.relative_to(self.root).as_posix()


def output_shards(directory: str | os.PathLike[str]) -> list[Shard]:
    """The shards of an output directory, in order: a plain directory is one shard.

    Raises:
        InputError: no such directory, no tasks in it, a sharded directory whose job did
            not finish (no manifest), or a manifest naming a shard that is not there.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError("no such directory (expected the --out folder of convert)", path=root)
    manifest = root / MANIFEST_FILE
    if manifest.is_file():
        return _manifest_shards(root, manifest)
    if (root / TASKS_FILE).is_file():
        return [Shard(root, "")]
    if (root / SHARDS_DIR).is_dir():
        raise InputError(
            f"{SHARDS_DIR}/ but no {MANIFEST_FILE}: the job writing this directory did not "
            "finish (or is still running); its shards are not all there",
            path=root,
        )
    raise InputError(f"no {TASKS_FILE} here: not an output folder of `prelabel convert`", path=root)


def _manifest_shards(root: Path, manifest: Path) -> list[Shard]:
    try:
        doc = orjson.loads(manifest.read_bytes())
        names = [str(entry["name"]) for entry in doc["shards"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"not a shard manifest ({exc})", path=manifest) from None
    shards = [Shard(root, name) for name in names]
    for shard in shards:
        if "/" in shard.name or shard.name in ("", ".", "..") or not shard.tasks.is_file():
            raise InputError(f"shard {shard.name!r} is missing", path=manifest)
    return shards


def write_manifest(root: Path, shards: list[dict[str, object]], **info: object) -> None:
    """Commit a sharded directory: write ``shards.json`` (``shards`` in order, each with its
    ``name``), atomically, once every shard is complete."""
    doc = {"kind": MANIFEST_KIND, **info, "shards": shards}
    with replace_atomically(root / MANIFEST_FILE) as fh:
        fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def tasks_file(directory: str | os.PathLike[str]) -> Path:
    """``DIR/tasks.jsonl`` of a plain output directory.

    Raises:
        InputError: the directory or its ``tasks.jsonl`` does not exist.
    """
    root = Path(directory)
    output_shards(root)
    path = root / TASKS_FILE
    if not path.is_file():
        raise InputError(f"a sharded directory, not one {TASKS_FILE}", path=root)
    return path
