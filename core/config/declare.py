"""Options declared once: a typed dataclass field that also says how it looks as a CLI flag.

The ``[prelabel]`` table (:class:`~prelabel.config.options.PrelabelOptions`), each reader's
options (``prelabel.converters``) and the convert run (:class:`~prelabel.pipeline.ConvertOptions`)
are dataclasses whose fields are made with :func:`option`. The field's type says what the
value is (``bool`` is a flag, a ``Literal`` a choice, ``tuple[int, ...]`` / ``dict`` a
repeatable option); the :class:`Flag` in its metadata says how it reads on the command line.
The library never imports click: ``prelabel.cli.options`` builds the click options from
:func:`declared_fields`, so the option, its flag and its help cannot drift apart.

Example::

    @dataclass(frozen=True, slots=True, kw_only=True)
    class YoloOptions:
        names: str | None = option(None, help="data.yaml or classes.txt", path="file")
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any, Literal

PathKind = Literal["file", "dir", "any"]
FLAG = "prelabel.flag"  # the metadata key a declared field's Flag is stored under


@dataclass(frozen=True, slots=True)
class Flag:
    """How one declared option reads on the command line (``--<field-name>`` by default)."""

    help: str
    short: str | None = None  # e.g. "-i"
    name: str | None = None  # the long flag when it is not --<field name with dashes>
    metavar: str | None = None
    path: PathKind | None = None  # the value names an existing file, folder, or either
    low: float | None = None  # numbers: the allowed range (low_open: low itself excluded)
    high: float | None = None
    low_open: bool = False
    parse: Callable[[str], Any] | None = None  # one command-line word -> value (ValueError: why)
    show_default: bool = False


@dataclass(frozen=True, slots=True)
class Declared:
    """One declared field of an options class, with its resolved type."""

    name: str
    type: Any
    flag: Flag
    default: Any  # MISSING when the field has a default factory
    section: str | None  # the SECTION of the class that declares it (None: the class's own)


def option(
    default: Any = MISSING,
    *,
    help: str,
    factory: Callable[[], Any] | None = None,
    short: str | None = None,
    name: str | None = None,
    metavar: str | None = None,
    path: PathKind | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    parse: Callable[[str], Any] | None = None,
    show_default: bool = False,
) -> Any:
    """A dataclass field declaring one option: its default (or ``factory``) and its flag."""
    flag = Flag(help, short, name, metavar, path, low, high, low_open, parse, show_default)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={FLAG: flag})
    return dataclasses.field(default=default, metadata={FLAG: flag})


def declared_fields(cls: type) -> list[Declared]:
    """The declared options of ``cls`` (a dataclass), base classes' first, in field order.

    ``section`` names the help section a field is shown in: the ``SECTION`` class attribute
    of the class that declares the field (a shared group such as the tracking options sets
    one), or None when that class has none (a reader's own options).
    """
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        flag = f.metadata.get(FLAG)
        if isinstance(flag, Flag):
            out.append(Declared(f.name, hints[f.name], flag, f.default, _section(cls, f.name)))
    return out


def _section(cls: type, name: str) -> str | None:
    """The SECTION of the class that declares field ``name`` (the first in the MRO to have it)."""
    owner = next(
        c for c in reversed(cls.__mro__) if name in vars(c).get("__dataclass_fields__", {})
    )
    section = vars(owner).get("SECTION")
    return section if isinstance(section, str) else None


def value_type(hint: Any) -> Any:
    """``X | None`` -> ``X``; any other type as it is."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return hint
