"""Comparisons of a Feature with a value, as query filters (LaminDB 2.x's feature expressions).

``temperature == 21.6`` with ``temperature`` a saved Feature is not a bool but a
`FeaturePredicate`; the query layer's `Q` turns it into the lookup ``temperature=21.6``.
Comparing two features keeps Python's identity semantics.

Examples:
    >>> temperature = ln.Feature.get(name="temperature")
    >>> ln.Artifact.filter(temperature == 21.6, temperature != 0)
    >>> ln.Artifact.filter(temperature > 20)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FeatureComparisons", "FeaturePredicate"]


@dataclass(frozen=True)
class FeaturePredicate:
    """A condition on the values of a feature: ``<feature name><lookup> = value``, maybe negated."""

    feature: str
    lookup: str  # "" (exact) or a lookup suffix such as "__gt"
    value: Any
    negated: bool = False

    @property
    def key(self) -> str:
        """The lookup's keyword, e.g. ``temperature__gt``."""
        return f"{self.feature}{self.lookup}"

    def __repr__(self) -> str:
        operator = {"": "==", "__gt": ">", "__gte": ">=", "__lt": "<", "__lte": "<="}[self.lookup]
        operator = "!=" if self.negated else operator
        return f"<feature {self.feature} {operator} {self.value!r}>"


class FeatureComparisons:
    """Give a Feature the comparison operators that build `FeaturePredicate` filters."""

    name: str

    def _predicate(self, lookup: str, value: Any, *, negated: bool = False) -> FeaturePredicate:
        return FeaturePredicate(self.name, lookup, value, negated)

    def __eq__(self, other: object) -> Any:
        if isinstance(other, FeatureComparisons):
            return self is other
        return self._predicate("", other)

    def __ne__(self, other: object) -> Any:
        if isinstance(other, FeatureComparisons):
            return self is not other
        return self._predicate("", other, negated=True)

    def __gt__(self, value: Any) -> FeaturePredicate:
        return self._predicate("__gt", value)

    def __ge__(self, value: Any) -> FeaturePredicate:
        return self._predicate("__gte", value)

    def __lt__(self, value: Any) -> FeaturePredicate:
        return self._predicate("__lt", value)

    def __le__(self, value: Any) -> FeaturePredicate:
        return self._predicate("__lte", value)

    __hash__ = object.__hash__
