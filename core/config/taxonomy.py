"""Scale label taxonomies: ``labels`` / ``objects_to_annotate`` parsed into leaf sets.

An entry is a string (a leaf) or a LabelDescription object ``{choice, subchoices,
instance_label, display}``. A parent with ``subchoices`` is navigation only; Scale returns
leaves only, so prelabels must use leaf choices (https://docs.scale.com/reference/label-nesting).

``instance_label`` belongs on leaves: the label-nesting page defines it per LabelDescription
(default false) and says only leaves are returned, but is silent on whether subchoices inherit a
parent's flag. So nothing is inherited, and a parent carrying it is an error (rule
``instance-label-leaf``) unless the caller relaxes that rule, in which case it is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prelabel.config.rules import LABEL_DESCRIPTION_KEYS


class TaxonomyError(ValueError):
    """A label list is malformed; ``location`` is relative to the list (``[2].choice``),
    ``rule`` the rule book's id."""

    def __init__(self, location: str, reason: str, rule: str = "labels") -> None:
        self.location = location
        self.reason = reason
        self.rule = rule
        super().__init__(f"{location}: {reason}")


@dataclass(frozen=True, slots=True)
class LabelNode:
    """One entry of a label list."""

    choice: str
    display: str
    instance_label: bool = False
    subchoices: tuple[LabelNode, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.subchoices

    def leaves(self) -> Iterator[LabelNode]:
        """This node if it is a leaf, else the leaves under it (depth first)."""
        if self.is_leaf:
            yield self
        for child in self.subchoices:
            yield from child.leaves()


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A parsed label list."""

    nodes: tuple[LabelNode, ...] = ()

    def __len__(self) -> int:
        return len(self.nodes)

    def leaf_nodes(self) -> Iterator[LabelNode]:
        for node in self.nodes:
            yield from node.leaves()

    def leaves(self) -> frozenset[str]:
        """Every leaf choice: the labels a prelabel may carry."""
        return frozenset(n.choice for n in self.leaf_nodes())

    def instance_leaves(self) -> frozenset[str]:
        """Leaf choices that are instance labels (panoptic segmentation)."""
        return frozenset(n.choice for n in self.leaf_nodes() if n.instance_label)

    def parents(self) -> frozenset[str]:
        """Navigation-only choices (they have subchoices)."""
        out: set[str] = set()
        stack = list(self.nodes)
        while stack:
            node = stack.pop()
            if not node.is_leaf:
                out.add(node.choice)
                stack.extend(node.subchoices)
        return frozenset(out)


def parse_labels(value: Any, *, parent_instance: bool = False) -> Taxonomy:
    """Parse a ``labels`` / ``objects_to_annotate`` array.

    Args:
        value: the array as loaded from the config (strings and LabelDescription tables).
        parent_instance: accept (and ignore) ``instance_label`` on a parent label instead of
            failing; subchoices never inherit it.

    Returns:
        The taxonomy, with every leaf choice unique.

    Raises:
        TaxonomyError: with the location inside the array and what is wrong.
    """
    if not isinstance(value, list):
        raise TaxonomyError("", f"must be an array of labels, got {_kind(value)}")
    nodes = tuple(_parse_entry(e, f"[{i}]", parent_instance) for i, e in enumerate(value))
    taxonomy = Taxonomy(nodes)
    _check_unique(taxonomy)
    return taxonomy


def _parse_entry(entry: Any, where: str, parent_instance: bool) -> LabelNode:
    if isinstance(entry, str):
        return LabelNode(_choice(entry, where), entry)
    if not isinstance(entry, dict):
        raise TaxonomyError(
            where, f"must be a string or a LabelDescription table, got {_kind(entry)}"
        )
    _check_keys(entry, where)
    choice = _choice(entry.get("choice"), f"{where}.choice")
    instance = entry.get("instance_label", False)
    if not isinstance(instance, bool):
        raise TaxonomyError(f"{where}.instance_label", f"must be true or false, got {instance!r}")
    display = entry.get("display", choice)
    if not isinstance(display, str):
        raise TaxonomyError(f"{where}.display", f"must be a string, got {_kind(display)}")
    subs = entry.get("subchoices", [])
    if not isinstance(subs, list) or ("subchoices" in entry and not subs):
        raise TaxonomyError(f"{where}.subchoices", "must be a non-empty array of labels")
    if subs and instance and not parent_instance:
        raise TaxonomyError(
            f"{where}.instance_label",
            "set instance_label on each leaf: Scale's docs do not say whether subchoices "
            "inherit it from a parent",
            "instance-label-leaf",
        )
    children = tuple(
        _parse_entry(sub, f"{where}.subchoices[{i}]", parent_instance) for i, sub in enumerate(subs)
    )
    return LabelNode(choice, display, instance and not subs, children)


def _check_keys(entry: dict[str, Any], where: str) -> None:
    unknown = sorted(set(entry) - LABEL_DESCRIPTION_KEYS)
    if unknown:
        allowed = ", ".join(sorted(LABEL_DESCRIPTION_KEYS))
        raise TaxonomyError(
            f"{where}.{unknown[0]}", f"not a LabelDescription field (fields: {allowed})"
        )


def _choice(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TaxonomyError(where, f"a label must be a non-empty string, got {value!r}")
    return value


def _check_unique(taxonomy: Taxonomy) -> None:
    seen: set[str] = set()
    for node in taxonomy.leaf_nodes():
        if node.choice in seen:
            raise TaxonomyError(
                "", f"label {node.choice!r} appears twice; leaf choices must be unique"
            )
        seen.add(node.choice)


def _kind(value: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return type(value).__name__
