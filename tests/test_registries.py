"""The registries and the command line agree: every reader and task type the CLI offers is
registered, every registered one is offered, and each entry's code and declarations load."""

from __future__ import annotations

import dataclasses
import json
import typing

import click
import pytest
from click.testing import CliRunner

from prelabel.cli.convert import convert_command
from prelabel.cli.main import cli
from prelabel.cli.options import click_option_args
from prelabel.config import rules
from prelabel.config.declare import FLAG, declared_fields
from prelabel.config.options import PrelabelAs
from prelabel.config.task_types import TASK_TYPES, get_task_type
from prelabel.converters.registry import READERS
from prelabel.errors import ConfigError, UnknownFormatError

CONTEXT = click.Context(convert_command, info_name="convert")


def test_convert_offers_exactly_the_registered_readers() -> None:
    assert convert_command.list_commands(CONTEXT) == sorted(READERS)
    assert convert_command.get_command(CONTEXT, "nope") is None


def test_formats_lists_the_registered_readers_and_task_types() -> None:
    data = json.loads(CliRunner().invoke(cli, ["formats", "--json"]).stdout)
    assert [r["reader"] for r in data["readers"]] == sorted(READERS)
    assert data["targets"] == sorted(TASK_TYPES)
    for reader in data["readers"]:
        assert reader["targets"] == dict(READERS[reader["reader"]].targets)


@pytest.mark.parametrize("name", sorted(READERS))
def test_each_reader_entry_loads_and_its_command_has_every_declared_option(name: str) -> None:
    entry = READERS[name]
    assert callable(entry.reader())
    options = entry.options_class()
    assert dataclasses.is_dataclass(options)
    # every field is a declared option (the reader takes nothing undeclared), and has help
    assert all(FLAG in f.metadata for f in dataclasses.fields(options))
    assert set(entry.targets) <= set(TASK_TYPES)
    command = convert_command.get_command(CONTEXT, name)
    assert command is not None and (command.help or "").startswith("Convert ")
    flags = {o for p in command.params for o in p.opts}
    for declared in declared_fields(options):
        decls, _ = click_option_args(declared)
        assert set(decls[:-1]) <= flags, (name, declared.name)
    names = [p.name for p in command.params]
    assert len(names) == len(set(names)), f"convert {name}: two options share a name"


def test_the_config_accepts_exactly_the_registered_task_types() -> None:
    from prelabel.config.load import config_from_dict

    with pytest.raises(ConfigError) as err:
        config_from_dict({"task_type": "nope", "params": {}})
    assert err.value.reason.startswith(f"must be one of {', '.join(TASK_TYPES)} ")
    with pytest.raises(UnknownFormatError):
        get_task_type("nope")


def test_the_rule_book_covers_every_task_type_and_no_other() -> None:
    for table in (
        rules.PARAMS,
        rules.REQUIRED_PARAMS,
        rules.PRELABEL_TARGETS,
        rules.ATTACHMENT_TYPES,
    ):
        assert set(table) == set(TASK_TYPES)
    offered = set(typing.get_args(PrelabelAs))  # --prelabel-as choices
    assert set().union(*rules.PRELABEL_TARGETS.values()) == offered


@pytest.mark.parametrize("name", list(TASK_TYPES))
def test_each_task_type_entry_names_code_that_exists(name: str) -> None:
    entry = TASK_TYPES[name]
    for hook in (entry.load_writer(), entry.load_check(), entry.load_preview()):
        assert callable(hook)
    assert entry.taxonomy_key in rules.PARAMS[name]
    assert ("attachments" in rules.PARAMS[name]) == entry.video
