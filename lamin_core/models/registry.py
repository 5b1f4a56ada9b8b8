"""The registry map: which registries exist, how they link, and how text names them.

Everything that asks "which tables are there" (search indexes, `ln.view()`, feature filters,
labels) or reads a registry reference written as text (a feature dtype ``"cat[bionty.CellType]"``,
a curator's ``"ULabel.name"``, a Dagster ``lamin/schema``) asks this module, so that one list of
registries and one list of accepted spellings serve them all.

Registries are registered explicitly, with the namespace they belong to: the core ones by
`lamin_core.models` at import, the biological ones by `lamin_core.bio` when it defines them (the
models never import bio). A reference is written in one of these forms, each optionally followed
by ``.field`` (default: the registry's name field)::

    ULabel   ln.ULabel   lamin_core.ULabel                      core registries
    CellType bionty.CellType   bt.CellType   lamin_core.bio.CellType   bio registries

Examples:
    >>> parse_reference("bt.CellType.ontology_id")
    RegistryRef(registry=<class 'lamin_core.bio.models.CellType'>, field='ontology_id')
    >>> reference_text(*parse_reference("ln.ULabel.name"))
    'ULabel'
    >>> [ref.registry.__name__ for ref in categorical_registries("list[cat[ULabel|bt.Tissue]]")]
    ['ULabel', 'Tissue']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipProperty

from lamin_core.errors import RegistryReferenceError, ValidationError, did_you_mean

# This module imports no model: the models register themselves (lamin_core.models at import,
# lamin_core.bio when it defines its registries), so every layer may import it.

__all__ = [
    "ACCEPTED_FORMS",
    "BIO",
    "CORE",
    "LinkTable",
    "Namespace",
    "RegistryRef",
    "ValueLink",
    "categorical_registries",
    "feature_link",
    "field_names",
    "is_label_registry",
    "label_link",
    "label_registries",
    "namespace_of",
    "parse_categorical",
    "parse_reference",
    "reference_text",
    "register",
    "register_alias",
    "registries",
    "registry_named",
    "search_fields",
    "searchable_registries",
    "spellings",
    "split_list",
    "to_many_relations",
    "value_link",
]


@dataclass(frozen=True)
class Namespace:
    """A family of registries and the prefixes that name it in text.

    Attributes:
        name: ``"lamin_core"`` or ``"bionty"``.
        prefixes: The accepted prefixes, e.g. ``("bionty.", "bt.", "lamin_core.bio.")``.
        canonical: The prefix of the canonical spelling (stored dtypes): ``""`` or ``"bionty."``.
        alias: The module alias in code (``ln``, ``bt``), for hints that show code.
    """

    name: str
    prefixes: tuple[str, ...]
    canonical: str
    alias: str


CORE = Namespace("lamin_core", ("ln.", "lamin_core."), "", "ln")
BIO = Namespace("bionty", ("bionty.", "bt.", "lamin_core.bio."), "bionty.", "bt")
# longest first: "lamin_core.bio." must win over "lamin_core."
_PREFIXES = sorted(
    ((prefix, namespace) for namespace in (CORE, BIO) for prefix in namespace.prefixes),
    key=lambda item: -len(item[0]),
)

ACCEPTED_FORMS = (
    "'ULabel', 'ln.ULabel', 'lamin_core.ULabel' (core registries), 'bionty.CellType', "
    "'bt.CellType', 'lamin_core.bio.CellType' or 'CellType' (bio registries), each optionally "
    "followed by '.field' such as 'bionty.CellType.ontology_id'"
)


@dataclass(frozen=True)
class _Entry:
    registry: type
    namespace: Namespace
    is_label: bool


_ENTRIES: dict[str, _Entry] = {}  # by class name, in registration order


def register(*registries: type, namespace: Namespace = CORE, is_label: bool = False) -> None:
    """Add registries to the map (idempotent).

    Args:
        registries: Record subclasses with a table.
        namespace: `CORE` or `BIO`: how text names them.
        is_label: Whether their records can label artifacts (``artifact.labels``, ``cat[...]``
            dtypes); such a registry has an ``artifact_<table>`` link table with a feature_id.

    Raises:
        ValueError: another registry of the same class name is registered: references by
            name would be ambiguous.
    """
    for registry in registries:
        if "__table__" not in registry.__dict__:
            raise ValueError(f"{registry.__name__} has no table of its own: not a registry.")
        known = _ENTRIES.get(registry.__name__)
        if known is not None and known.registry is not registry:
            raise ValueError(
                f"Two registries are called {registry.__name__}: {known.registry.__module__} "
                f"and {registry.__module__}; registry references name them by class name."
            )
        _ENTRIES[registry.__name__] = _Entry(registry, namespace, is_label)


_ALIASES: dict[str, type] = {}  # older class names that still name a registry in text


def register_alias(name: str, registry: type) -> None:
    """Let text name a registered registry by an older class name (``FeatureSet`` -> Schema)."""
    _entry(registry)
    _ALIASES[name] = registry


def registries() -> list[Any]:
    """Return every registered registry, core ones first, in the order they were registered."""
    return [entry.registry for entry in _ENTRIES.values()]


def registry_named(name: str) -> Any:
    """Return the registry with class name `name` (no prefix), or None."""
    entry = _ENTRIES.get(name)
    return entry.registry if entry is not None else _ALIASES.get(name)


def _entry(registry: type) -> _Entry:
    entry = _ENTRIES.get(registry.__name__)
    if entry is None or entry.registry is not registry:
        raise ValidationError(
            f"{registry.__name__} is not a registry of the catalog; registries: "
            f"{', '.join(_ENTRIES)}."
        )
    return entry


def namespace_of(registry: type) -> Namespace:
    """Return the namespace (`CORE` or `BIO`) of a registry."""
    return _entry(registry).namespace


def label_registries() -> list[Any]:
    """Return the registries whose records can label artifacts: ULabel and the bio registries."""
    return [entry.registry for entry in _ENTRIES.values() if entry.is_label]


def is_label_registry(registry: type) -> bool:
    """Whether records of `registry` can label artifacts."""
    entry = _ENTRIES.get(registry.__name__)
    return entry is not None and entry.registry is registry and entry.is_label


def field_names(registry: type) -> list[str]:
    """Return the names of a registry's columns, in table order."""
    mapper: sa.orm.Mapper[Any] = sa.inspect(registry)
    return [attribute.key for attribute in mapper.column_attrs]


def to_many_relations(registry: Any) -> list[RelationshipProperty[Any]]:
    """Return the to-many relations of a registry (the ones that get a `RelatedManager`)."""
    return [rel for rel in sa.inspect(registry).relationships if rel.uselist]


def search_fields(registry: Any) -> tuple[str, ...]:
    """Return the fields `search()` and the search index cover by default."""
    return tuple(getattr(registry, "_search_fields", ()))


def searchable_registries() -> list[Any]:
    """Return the registries with search fields, sorted by table name."""
    found = {cls.__table__.name: cls for cls in registries() if search_fields(cls)}
    return [found[name] for name in sorted(found)]


class LinkTable(NamedTuple):
    """A table linking records of one registry to records of another, per feature."""

    table: sa.Table
    record_column: sa.Column[Any]
    label_column: sa.Column[Any]
    feature_column: sa.Column[Any]


def feature_link(root: Any, target: Any) -> LinkTable | None:
    """Return the table linking `root` records to `target` records with a ``feature_id``.

    Link tables are found in the metadata by their foreign keys, so registries defined later
    (the bio ones) link without changes here; ``<root>_<target>`` is preferred. None when
    there is none.
    """
    root_table, target_table = root.__table__, target.__table__
    found = []
    for table in root_table.metadata.tables.values():
        if "feature_id" not in table.c:
            continue
        root_col = target_col = None
        for column in table.c:
            for fk in column.foreign_keys:
                if fk.column.table is root_table and column.name != "feature_id":
                    root_col = column
                elif fk.column.table is target_table and column.name != "feature_id":
                    target_col = column
        if root_col is not None and target_col is not None and root_col is not target_col:
            found.append(LinkTable(table, root_col, target_col, table.c.feature_id))
    found.sort(key=lambda link: link.table.name != f"{root_table.name}_{target_table.name}")
    return found[0] if found else None


def label_link(registry: Any) -> LinkTable:
    """Return the link table of artifacts to labels of `registry` (``artifact_ulabel``, ...).

    Raises:
        ValidationError: artifacts cannot be labeled with records of this registry.
    """
    found = feature_link(registry_named("Artifact"), registry)
    if found is None:
        names = ", ".join(r.__name__ for r in label_registries())
        raise ValidationError(
            f"Artifacts cannot be labeled with {registry.__name__} records; label registries: "
            f"{names}."
        )
    return found


class ValueLink(NamedTuple):
    """The table linking records of a registry to their dataset-level FeatureValue rows."""

    table: sa.Table
    record_column: sa.Column[Any]
    value_column: sa.Column[Any]


def value_link(root: Any) -> ValueLink | None:
    """Return how `root` records link to FeatureValue rows (``artifact_featurevalue``), or None.

    Found in the metadata by foreign keys, as `feature_link`; cached per number of tables, since
    a registry defined later (the bio ones) adds tables.
    """
    return _value_link(root, len(root.__table__.metadata.tables))


@functools.lru_cache(maxsize=256)
def _value_link(root: Any, _table_count: int) -> ValueLink | None:
    root_table = root.__table__
    target = registry_named("FeatureValue").__table__
    for table in root_table.metadata.tables.values():
        root_col = value_col = None
        for column in table.c:
            for fk in column.foreign_keys:
                if fk.column.table is root_table:
                    root_col = column
                elif fk.column.table is target:
                    value_col = column
        if root_col is not None and value_col is not None:
            return ValueLink(table, root_col, value_col)
    return None


# --- registry references -------------------------------------------------------------------


class RegistryRef(NamedTuple):
    """A registry and one of its fields, as a reference names them."""

    registry: Any
    field: str


def spellings(registry: Any) -> list[str]:
    """Return every accepted spelling of a registry, canonical first (see `ACCEPTED_FORMS`).

    Examples:
        >>> spellings(CellType)
        ['bionty.CellType', 'bt.CellType', 'lamin_core.bio.CellType', 'CellType']
    """
    namespace = namespace_of(registry)
    forms = [namespace.canonical, *namespace.prefixes, ""]
    return [f"{prefix}{registry.__name__}" for prefix in dict.fromkeys(forms)]


def reference_text(registry: Any, field: str | None = None) -> str:
    """Return the canonical spelling: ``"ULabel"``, ``"bionty.CellType.ontology_id"``.

    The field is left out when it is the registry's name field.
    """
    prefix = namespace_of(registry).canonical
    default = field is None or field == registry._name_field
    return f"{prefix}{registry.__name__}" + ("" if default else f".{field}")


def _error(text: str, reason: str, hint: str = "", tail: str = "", **kwargs: Any) -> Exception:
    return RegistryReferenceError(
        f"Invalid registry reference {text!r}: {reason}.{hint}{tail}",
        reference=text,
        reason=reason,
        hint=hint,
        **kwargs,
    )


def parse_reference(text: Any, *, labels_only: bool = False) -> RegistryRef:
    """Parse text naming a registry and, optionally, one of its fields.

    Accepted: see `ACCEPTED_FORMS`. Without a field, the registry's name field is meant
    (``"bionty.Gene"`` is ``Gene.symbol``).

    Args:
        text: E.g. ``"ULabel"``, ``"ln.ULabel.name"``, ``"bt.CellType.ontology_id"``.
        labels_only: Accept only label registries (those a ``cat[...]`` dtype may name).

    Raises:
        RegistryReferenceError: the text is malformed, or names an unknown registry or field;
            the message lists the accepted forms, the registries or the fields.
    """
    if not isinstance(text, str):
        raise RegistryReferenceError(
            f"A registry reference is text such as 'ULabel.name' or 'bionty.CellType.name', "
            f"got {type(text).__name__} {text!r}. Accepted forms: {ACCEPTED_FORMS}.",
            reference=repr(text),
            reason=f"not text: {text!r}",
        )
    stripped = text.strip()
    namespace = None
    rest = stripped
    for prefix, candidate in _PREFIXES:
        if stripped.startswith(prefix):
            namespace, rest = candidate, stripped[len(prefix) :]
            break
    parts = rest.split(".")
    if not parts[0]:
        raise _error(text, "empty registry name", tail=f" Accepted forms: {ACCEPTED_FORMS}.")
    if len(parts) > 2 or not all(parts):
        reason = "expected 'Registry' or 'Registry.field'"
        raise _error(text, reason, tail=f" Accepted forms: {ACCEPTED_FORMS}.")
    name = parts[0]
    choices = label_registries() if labels_only else registries()
    by_name = {registry.__name__: registry for registry in choices}
    registry = by_name.get(name)
    if registry is None and not labels_only:
        registry = _ALIASES.get(name)
    if registry is None:
        shown = ", ".join(reference_text(r) for r in choices)
        kind = "label registries" if labels_only else "registries"
        if labels_only and registry_named(name) is not None:
            reason = f"{name} is not a label registry"
        else:
            reason = f"unknown registry {name!r}"
        hint = did_you_mean(name, by_name)
        tail = f" The {kind}: {shown}. Accepted forms: {ACCEPTED_FORMS}."
        raise _error(text, reason, hint, tail, name=name)
    home = namespace_of(registry)
    if namespace is not None and namespace is not home:
        reason = f"{name} is a {home.name} registry, not a {namespace.name} one"
        shown = " or ".join(map(repr, spellings(registry)))
        raise _error(text, reason, f" Write {shown}.", name=name)
    fields = field_names(registry)
    if len(parts) == 1 and registry._name_field not in fields:
        reason = f"{name} has no name field to default to"
        raise _error(text, reason, f" Name a field, e.g. {text.strip()}.uid.", name=name)
    field = parts[1] if len(parts) == 2 else registry._name_field
    if field not in fields:
        reason = f"{name} has no field {field!r}"
        hint = did_you_mean(field, fields)
        tail = f" Fields: {', '.join(fields)}."
        raise _error(text, reason, hint, tail, registry=registry, name=field)
    return RegistryRef(registry, field)


_LIST = re.compile(r"^list\[(?P<inner>.*)\]$")
_CAT = re.compile(r"^cat(?:\[(?P<inner>.*)\])?$")


def split_list(dtype: str) -> tuple[bool, str]:
    """Return (is it ``list[...]``, the dtype inside): ``"list[int]"`` -> ``(True, "int")``."""
    match = _LIST.match(dtype)
    return (True, match.group("inner")) if match else (False, dtype)


def parse_categorical(dtype: str) -> tuple[RegistryRef, ...] | None:
    """Parse a categorical dtype: ``cat``, ``cat[ULabel]``, ``cat[ULabel|bt.CellType.ontology_id]``.

    ``cat`` alone means ``cat[ULabel]``; ``cat[Record[<uid>]]`` means the records of the type
    with that uid (the registry is Record; `lamin_core.annotations.dtypes` reads the uid).
    Wrap lists with `split_list` first.

    Returns:
        The (registry, label field) pairs, or None when `dtype` is not categorical.

    Raises:
        RegistryReferenceError: a part names no label registry or field.
    """
    match = _CAT.match(dtype.replace(" ", ""))
    if match is None:
        return None
    inner = match.group("inner")
    parts = ("ULabel" if inner is None else inner).split("|")
    return tuple(_parse_part(part) for part in parts)


# a type record as the part of a dtype: Record[<uid>] (the records of that type)
_TYPED_PART = re.compile(r"^(?P<registry>\w+)\[(?P<uid>[A-Za-z0-9]+)\]$")


def _parse_part(part: str) -> RegistryRef:
    typed = _TYPED_PART.match(part)
    if typed is None:
        return parse_reference(part, labels_only=True)
    ref = parse_reference(typed.group("registry"), labels_only=True)
    if "type_id" not in field_names(ref.registry):
        reason = f"{ref.registry.__name__} has no type records"
        raise _error(part, reason, " Name the registry alone, e.g. 'bionty.CellType'.")
    return ref


def categorical_registries(dtype: str) -> tuple[RegistryRef, ...]:
    """Return the label registries of a feature dtype (``list[cat[...]]`` too); () for values.

    Raises:
        RegistryReferenceError: the dtype names no label registry or field.
    """
    _is_list, inner = split_list(dtype.replace(" ", ""))
    return parse_categorical(inner) or ()
