"""`Q`: lookups combined with ``&``, ``|`` and ``~``.

A `Q` is a small tree: its children are ``(name, value)`` pairs, other `Q` objects or raw
SQLAlchemy boolean expressions (an escape hatch), joined by AND or OR, possibly negated.
It knows nothing about registries; `lamin_core.query.compiler` resolves and compiles it.

Examples:
    >>> import lamin_core as ln
    >>> ln.Artifact.filter(ln.Q(suffix=".jpg") | ln.Q(suffix=".fastq.gz"), size__gt=1e4)
    >>> ln.Artifact.filter(~ln.Q(suffix=".jpg"))
"""

from __future__ import annotations

from typing import Any

from lamin_core.errors import ValidationError
from lamin_core.models.feature_predicate import FeaturePredicate

__all__ = ["LOOKUP_SEP", "Q"]

LOOKUP_SEP = "__"


class Q:
    """A condition on a registry: keyword lookups, combinable with ``&``, ``|`` and ``~``.

    Args:
        *children: Other `Q` objects, feature comparisons (``temperature > 20``) or
            SQLAlchemy boolean expressions, ANDed.
        **lookups: Django-style lookups such as ``suffix=".h5ad"`` or ``size__gt=1e4``.

    Examples:
        >>> q = Q(suffix=".jpg") | Q(suffix=".fastq.gz")
        >>> ln.Artifact.filter(q & ~Q(key__startswith="raw/"))
    """

    AND = "AND"
    OR = "OR"

    def __init__(self, *children: Any, **lookups: Any) -> None:
        for child in children:
            if isinstance(child, (str, bytes)):
                raise ValidationError(
                    f"Q() got the string {child!r} as a positional argument; pass lookups as "
                    "keywords, e.g. Q(name='DMSO')."
                )
        self.children: list[Any] = [*map(_from_predicate, children), *lookups.items()]
        self.connector = self.AND
        self.negated = False

    @classmethod
    def _combine_children(cls, connector: str, children: list[Any], negated: bool = False) -> Q:
        q = cls()
        q.children = children
        q.connector = connector
        q.negated = negated
        return q

    def _combine(self, other: Any, connector: str) -> Q:
        if not isinstance(other, Q):
            raise ValidationError(
                f"Cannot combine a Q with {type(other).__name__} {other!r}; wrap lookups in Q()."
            )
        if not other.children:
            return self._copy()
        if not self.children:
            return other._copy()
        return Q._combine_children(connector, [self, other])

    def _copy(self) -> Q:
        return Q._combine_children(self.connector, list(self.children), self.negated)

    def __and__(self, other: Any) -> Q:
        return self._combine(other, self.AND)

    def __or__(self, other: Any) -> Q:
        return self._combine(other, self.OR)

    def __invert__(self) -> Q:
        return Q._combine_children(self.AND, [self], negated=True)

    def __bool__(self) -> bool:
        return bool(self.children)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Q)
            and self.connector == other.connector
            and self.negated == other.negated
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.connector, self.negated, len(self.children)))

    def __repr__(self) -> str:
        parts = []
        for child in self.children:
            if isinstance(child, tuple):
                parts.append(f"{child[0]}={child[1]!r}")
            else:
                parts.append(repr(child))
        inner = f" {self.connector} ".join(parts) if len(parts) > 1 else "".join(parts)
        return f"~Q({inner})" if self.negated else f"Q({inner})"


def _from_predicate(child: Any) -> Any:
    """Turn a feature comparison (``temperature == 21.6``) into its lookup; keep anything else."""
    if not isinstance(child, FeaturePredicate):
        return child
    q = Q(**{child.key: child.value})
    return ~q if child.negated else q
