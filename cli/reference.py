"""The CLI reference page (``docs/cli.md``), generated from ``--help`` by cog.

Each command's help is shown as ``--help`` prints it, except that the option sections
several commands share (the convert-wide options, the ``[prelabel]`` flags, the tracking
options) are written once, under the group that holds those commands, and each command
names the shared sections it also takes.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from prelabel.cli.options import SectionedCommand

WIDTH = {"terminal_width": 88, "max_content_width": 88}


def walk(
    cmd: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[click.Context]:
    """A context for ``cmd`` and for every command under it, depth first in name order."""
    ctx = click.Context(cmd, info_name=name, parent=parent, **{**cmd.context_settings, **WIDTH})
    yield ctx
    if isinstance(cmd, click.Group):
        for sub in cmd.list_commands(ctx):
            found = cmd.get_command(ctx, sub)
            if found is not None:
                yield from walk(found, sub, ctx)


def own_help(ctx: click.Context) -> str:
    """The command's ``--help`` without its shared sections."""
    cmd = ctx.command
    if not isinstance(cmd, SectionedCommand):
        return cmd.get_help(ctx)
    formatter = ctx.make_formatter()
    cmd.format_usage(ctx, formatter)
    cmd.format_help_text(ctx, formatter)
    cmd.format_sections(ctx, formatter, {None})
    return formatter.getvalue().rstrip("\n")


def shared_sections(children: list[click.Context]) -> dict[str, tuple[str, list[str]]]:
    """Title -> (the section as --help prints it, the commands taking it), in first-seen order."""
    out: dict[str, tuple[str, list[str]]] = {}
    for ctx in children:
        cmd = ctx.command
        if not isinstance(cmd, SectionedCommand):
            continue
        for title in cmd.sections(ctx):
            if title is None:
                continue
            if title not in out:
                formatter = ctx.make_formatter()
                cmd.format_sections(ctx, formatter, {title})
                out[title] = (formatter.getvalue().rstrip("\n"), [])
            out[title][1].append(ctx.info_name or "")
    return out


def block(text: str) -> str:
    return f"```text\n{text}\n```\n"


def reference(root: click.Command, name: str) -> Iterator[str]:
    """The page's markdown, one piece per command and per shared section."""
    contexts = list(walk(root, name))
    for ctx in contexts:
        children = [c for c in contexts if c.parent is ctx]
        yield f"### `{ctx.command_path}`\n\n{block(own_help(ctx))}"
        shared = shared_sections(children)
        for title, (text, users) in shared.items():
            takers = ", ".join(f"`{u}`" for u in users)
            yield f"#### {title}\n\nTaken by {takers}.\n\n{block(text)}"
        cmd = ctx.command
        if isinstance(cmd, SectionedCommand) and ctx.parent is not None:
            titles = [t for t in cmd.sections(ctx) if t is not None]
            if titles:
                links = ", ".join(f"[{escape(t.split(' (')[0])}](#{anchor(t)})" for t in titles)
                yield f"Also takes the shared options of `{ctx.parent.command_path}`: {links}.\n"


def escape(text: str) -> str:
    """Markdown text with its square brackets taken literally."""
    return text.replace("[", "\\[").replace("]", "\\]")


def anchor(title: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")
