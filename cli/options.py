"""Click options built from declared option classes, and the option sets commands share.

The library declares its options once, as typed dataclass fields
(:mod:`prelabel.config.declare`): the ``[prelabel]`` table, each reader's options and the
convert run. :func:`declared_options` turns each field into one click option and
:func:`given` takes the values back out; a command never lists those flags by hand. The
hand-written options below are the command line's own (config file, output folder,
``--json``, ``-q``).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Container
from typing import Any, Literal, TypeVar

import click

from prelabel.config.declare import Declared, declared_fields, value_type

F = TypeVar("F", bound=Callable[..., Any])


class DeclaredOption(click.Option):
    """A click option that knows the help section it is listed in (None: "Options")."""

    def __init__(self, *args: Any, section: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its options by section: its own, then shared groups."""

    def sections(self, ctx: click.Context) -> dict[str | None, list[tuple[str, str]]]:
        """Section title (None: the command's own "Options") -> its help rows, in order."""
        sections: dict[str | None, list[tuple[str, str]]] = {None: []}
        for param in self.get_params(ctx):
            record = None if isinstance(param, click.Argument) else param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(getattr(param, "section", None), []).append(record)
        return sections

    def format_sections(
        self, ctx: click.Context, formatter: click.HelpFormatter, only: Container[str | None]
    ) -> None:
        """Write the sections whose title is in ``only``."""
        for title, records in self.sections(ctx).items():
            if records and title in only:
                with formatter.section(title or "Options"):
                    formatter.write_dl(records)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_sections(ctx, formatter, set(self.sections(ctx)))


def declared_options(cls: type, *, unset_default: bool = False) -> Callable[[F], F]:
    """A decorator adding one click option per declared field of ``cls``, in field order.

    With ``unset_default`` every option defaults to None (not given), so a value from
    elsewhere (the config file's ``[prelabel]`` table) is only overridden when given.
    """
    fields = declared_fields(cls)

    def decorate(f: F) -> F:
        for declared in reversed(fields):
            decls, kwargs = click_option_args(declared, unset_default=unset_default)
            f = click.option(*decls, cls=DeclaredOption, **kwargs)(f)
        return f

    return decorate


def given(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Take the values of ``cls``'s declared fields out of a command's ``values``; the
    ones not given on the command line (None, or no repeat of a repeatable option) are left
    out, so the dataclass default (or the config file) applies."""
    out = {}
    for declared in declared_fields(cls):
        value = values.pop(declared.name, None)
        if value is not None and value != ():
            out[declared.name] = value
    return out


def click_option_args(
    declared: Declared, *, unset_default: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """The ``click.option`` declarations and keyword arguments of one declared field."""
    flag = declared.flag
    decls = [flag.name or "--" + declared.name.replace("_", "-"), declared.name]
    if flag.short:
        decls.insert(1, flag.short)
    kwargs: dict[str, Any] = {"help": flag.help, "section": declared.section}
    if flag.metavar:
        kwargs["metavar"] = flag.metavar
    kwargs.update(_value_kwargs(declared))
    if unset_default:
        kwargs["default"] = None
    elif flag.show_default:
        kwargs.update(default=declared.default, show_default=True)
    return decls, kwargs


def _value_kwargs(declared: Declared) -> dict[str, Any]:
    """type / is_flag / multiple / callback for the field's type and flag."""
    hint, flag = value_type(declared.type), declared.flag
    origin = typing.get_origin(hint)
    repeat = origin is dict or (origin is tuple and typing.get_args(hint)[-1:] == (Ellipsis,))
    if hint is bool:
        return {"is_flag": True}
    if flag.parse is not None:
        return {"multiple": repeat, "callback": _parsing(flag.parse, repeat, origin is dict)}
    if repeat:
        return {"multiple": True, "type": _click_type(typing.get_args(hint)[0], declared)}
    return {"type": _click_type(hint, declared)}


def _click_type(hint: Any, declared: Declared) -> Any:
    flag = declared.flag
    if typing.get_origin(hint) is Literal:
        return click.Choice([str(a) for a in typing.get_args(hint)])
    if flag.path is not None:
        return click.Path(exists=True, file_okay=flag.path != "dir", dir_okay=flag.path != "file")
    if hint is int and (flag.low is not None or flag.high is not None):
        low, high = (None if v is None else int(v) for v in (flag.low, flag.high))
        return click.IntRange(low, high, min_open=flag.low_open)
    if hint is float and (flag.low is not None or flag.high is not None):
        return click.FloatRange(flag.low, flag.high, min_open=flag.low_open)
    if hint in (int, float, str):
        return hint
    raise TypeError(f"{declared.name}: no command-line form for {hint!r}; give the flag a parse")


def _parsing(parse: Callable[[str], Any], repeat: bool, as_dict: bool) -> Any:
    """A click callback applying ``parse`` to each word; its ValueError is a usage error."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            if not repeat:
                return parse(value)
            parsed = [parse(v) for v in value]
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        return (dict(parsed) if as_dict else tuple(parsed)) or None

    return callback


def config_option(f: F, section: str | None = None) -> F:
    return click.option(
        "--config",
        "-c",
        "config_path",
        cls=DeclaredOption,
        section=section,
        required=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Task config (TOML, YAML or JSON): task_type, [params], [prelabel].",
    )(f)


def out_option(f: F, section: str | None = None) -> F:
    return click.option(
        "--out",
        "-o",
        "out_dir",
        cls=DeclaredOption,
        section=section,
        required=True,
        type=click.Path(file_okay=False),
        help="Output directory: tasks.jsonl, artifacts/, report.json.",
    )(f)


def output_options(f: F, section: str | None = None) -> F:
    """``--json`` and ``-q/--quiet``, which every command takes."""
    f = click.option(
        "--json",
        "as_json",
        cls=DeclaredOption,
        section=section,
        is_flag=True,
        help="Print a JSON summary on stdout.",
    )(f)
    return click.option(
        "--quiet",
        "-q",
        cls=DeclaredOption,
        section=section,
        is_flag=True,
        help="No progress or summary on stderr.",
    )(f)
