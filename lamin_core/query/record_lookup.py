"""`Registry.lookup()`: records as attributes, for auto-completion in notebooks and editors.

``ln.ULabel.lookup().candidate_marker_study_1`` returns the record named "Candidate marker
study 1". Building the object reads only the id and the name column (one query, no ORM objects),
and a record is loaded when its attribute is first accessed, so a lookup over 100,000 records is
cheap.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.errors import FieldError, closest_match

if TYPE_CHECKING:
    from lamin_core.instance import Instance

__all__ = ["Lookup", "lookup", "to_attribute_name"]

_NON_ALNUM = re.compile(r"[^0-9a-zA-Z]+")


def to_attribute_name(value: Any) -> str:
    """Turn a value into a Python identifier: lower case, non-alphanumerics to ``_``.

    A leading digit gets a ``_`` prefix and Python keywords a ``_`` suffix.

    Examples:
        >>> to_attribute_name("Candidate marker study 1")
        'candidate_marker_study_1'
        >>> to_attribute_name("1st batch"), to_attribute_name("class")
        ('_1st_batch', 'class_')
    """
    name = _NON_ALNUM.sub("_", str(value).lower()).strip("_") or "_"
    if name[0].isdigit():
        name = f"_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_"
    return name


class Lookup:
    """Records of a registry as attributes named after a field.

    Building a lookup reads ids and values only; attribute names are derived on first use and
    a record is loaded when its attribute is accessed. A name shared by several records
    (``"B cell"`` and ``"B-cell"``) gives a list of them.

    Examples:
        >>> ulabels = ln.ULabel.lookup()
        >>> ulabels.ifng
        ULabel(uid='1NXaQvx0', name='IFNG', ...)
        >>> ulabels.dict()["ifng"]
    """

    def __init__(self, model: type, field: str, rows: list[Any], instance: Instance) -> None:
        self._model = model
        self._field = field
        self._rows = rows
        self._instance = instance
        self._names: dict[str, list[int]] | None = None

    @property
    def _ids(self) -> dict[str, list[int]]:
        if self._names is None:
            names: dict[str, list[int]] = {}
            for id_, value in self._rows:
                names.setdefault(to_attribute_name(value), []).append(id_)
            self._names = names
        return self._names

    def _load(self, ids: list[int]) -> Any:
        with self._instance.reading() as session:
            records = [session.get(self._model, id_) for id_ in ids]
        return records[0] if len(records) == 1 else records

    def __getattr__(self, name: str) -> Any:
        if name in ("_model", "_field", "_rows", "_instance", "_names") or name.startswith("__"):
            raise AttributeError(name)  # not set yet (copy, pickle): never recurse
        if name.startswith("_"):
            if name in self._ids:
                return self._load(self._ids[name])
            raise AttributeError(name)
        ids = self._ids.get(name)
        if ids is None:
            match = closest_match(name, self._ids)
            hint = f" Did you mean {match!r}?" if match else ""
            raise FieldError(
                f"No {self._model.__name__} with {self._field} matching {name!r} in the lookup."
                f"{hint}"
            )
        return self._load(ids)

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __dir__(self) -> list[str]:
        return sorted(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def keys(self) -> list[str]:
        """Return the attribute names."""
        return list(self._ids)

    def dict(self) -> dict[str, Any]:
        """Return ``{attribute name: record (or list of records)}``; loads every record."""
        ids = [id_ for group in self._ids.values() for id_ in group]
        model: Any = self._model
        with self._instance.reading() as session:
            records = {
                record.id: record
                for chunk in range(0, len(ids), 10_000)
                for record in session.scalars(
                    sa.select(model).where(model.id.in_(ids[chunk : chunk + 10_000]))
                )
            }
        result = {}
        for name, group in self._ids.items():
            found = [records[id_] for id_ in group if id_ in records]
            result[name] = found[0] if len(found) == 1 else found
        return result

    def __repr__(self) -> str:
        names = list(self._ids)
        shown = ", ".join(names[:10])
        more = f", ... ({len(names)} in total)" if len(names) > 10 else ""
        return f"Lookup({self._model.__name__}.{self._field}: {shown}{more})"


def lookup(model: Any, field: Any = None) -> Lookup:
    """Return a `Lookup` of `model`'s records named after `field` (default: its name field).

    Raises:
        FieldError: `field` is not a field of the registry.
    """
    from lamin_core.models.base import _field_name
    from lamin_core.query.queryset import QuerySet

    name = _field_name(model, field)
    queryset: QuerySet[Any] = QuerySet(model)
    rows = queryset._execute_rows(
        sa.select(model.id, getattr(model, name))
        .where(getattr(model, name).is_not(None))
        .order_by(model.id)
    )
    return Lookup(model, name, rows, queryset._catalog())
