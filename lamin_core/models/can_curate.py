"""Validate, inspect, standardize and make records from values, on every curatable registry.

LaminDB 2.x gives the registries whose records are named by a text field (ULabel, Feature,
Schema/FeatureSet, User and the bionty registries) one API for checking values against the
catalog before annotating data with them: ``validate`` (a boolean per value), ``inspect`` (which
values are in, which are not, which synonym fixes them), ``standardize`` (synonyms and case
variants to the canonical values) and ``from_values`` (records for values, existing ones reused).
`CanCurate` is that API; the work is done by `lamin_core.query.curation`, reached through
`lamin_core.binding`. Registries with a public source (the bio registries) override the hooks
(``_curation_*``) to restrict matches to an organism or a source and to look values up in the
public source.

`HasSynonyms` adds ``add_synonym``/``remove_synonym`` and, where an ``abbr`` field exists,
``set_abbr``, to registries with a pipe-separated ``synonyms`` field (Feature, bio registries).

Examples:
    >>> ln.ULabel.validate(["DMSO", "dmso"]).tolist()
    [True, False]
    >>> ln.ULabel.standardize(["dmso"])
    ['DMSO']
    >>> ln.Feature.get(name="temperature").add_synonym("temp")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from lamin_core.binding import above
from lamin_core.errors import InvalidArgument, ValidationError
from lamin_core.models.base import RecordList

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy.orm import Session

__all__ = ["SYNONYM_SEPARATOR", "CanCurate", "HasSynonyms"]

SYNONYM_SEPARATOR = "|"
C = TypeVar("C", bound="CanCurate")


class _ClassOnlyMethod:
    """A class method that refuses to be called on a record (LaminDB's rule for ``validate``).

    ``label.validate([...])`` would check the values against the whole registry, not against
    the record, which is never what the caller meant; it raises `InvalidArgument` instead.
    """

    def __init__(self, method: classmethod[Any, Any, Any]) -> None:
        self._method = method
        self.__doc__ = method.__func__.__doc__
        self.__name__ = method.__func__.__name__

    def __get__(self, record: Any, registry: type) -> Any:
        if record is None:
            return self._method.__get__(registry, registry)
        name, method = registry.__name__, self.__name__

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise InvalidArgument(
                f"{name}.{method}() is a class method and must be called on the {name} class, "
                f"not on a {name} object: write {name}.{method}(values, ...)."
            )

        return refuse


class CanCurate:
    """Check values against a registry field and turn them into records (LaminDB's CanCurate).

    Every method takes ``field`` as a column (``ln.ULabel.name``), a field name or None (the
    registry's name field); an unknown field raises `FieldError` with the closest match.

    Examples:
        >>> ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
        >>> ln.ULabel.inspect(["DMSO", "dmso", "unknown"]).synonyms_mapper
        {'dmso': 'DMSO'}
    """

    # --- hooks: registries with organisms or a public source override these --------------------

    @classmethod
    def _curation_conditions(
        cls,
        session: Session,
        *,
        organism: Any,
        source: Any,
        strict_source: bool,
        organism_required: bool = False,
    ) -> list[sa.ColumnElement[bool]] | None:
        """Return the conditions restricting matches (None: no record can match).

        `organism_required`: records of an organism-bound registry will be made (from_values),
        so an organism must be given; otherwise none means every organism.
        """
        return []

    @classmethod
    def _curation_public(cls, field: str, *, organism: Any, source: Any) -> Any:
        """Return the public vocabulary behind `field` (see `query.curation.PublicVocabulary`)."""
        return None

    @classmethod
    def _curation_new(cls, session: Session, field: str, value: Any, *, organism: Any) -> Any:
        """Return a new unsaved record whose `field` is `value` (``from_values(create=True)``)."""
        return cls._create(**{field: value})  # type: ignore[attr-defined]

    @classmethod
    def _curation_list(cls, records: Iterable[Any]) -> RecordList[Any]:
        """Return the list type `from_values` returns; its `save()` saves them together."""
        return RecordList(records)

    # --- the API --------------------------------------------------------------------------------

    @classmethod
    def validate(
        cls,
        values: Iterable[Any] | str,
        field: Any = None,
        *,
        mute: bool = False,
        organism: Any = None,
        source: Any = None,
        strict_source: bool = False,
    ) -> np.ndarray:
        """Return a boolean array: which values exactly equal a value of `field` in the registry.

        Args:
            values: The values, e.g. a list or a DataFrame column.
            field: The field to check against; default the name field.
            mute: Do not log the summary.
            organism: For organism-bound registries (Gene): a name or Organism record.
            source: A `bt.Source`; with `strict_source`, only records from it count.
            strict_source: Count only records linked to `source`.

        Examples:
            >>> ln.ULabel.validate(["DMSO", "unknown"]).tolist()
            [True, False]
        """
        return above.validate(
            cls,
            values,
            field,
            mute=mute,
            organism=organism,
            source=source,
            strict_source=strict_source,
        )

    if not TYPE_CHECKING:  # type checkers see the plain classmethod
        validate = _ClassOnlyMethod(validate)

    @classmethod
    def inspect(
        cls,
        values: Iterable[Any] | str,
        field: Any = None,
        *,
        mute: bool = False,
        organism: Any = None,
        source: Any = None,
        from_source: bool = True,
        strict_source: bool = False,
    ) -> Any:
        """Split distinct values into validated and not, with the synonyms that fix some.

        Returns:
            An `InspectResult` with ``validated``, ``non_validated``, ``synonyms_mapper``,
            ``frac_validated``, ``n_empty``, ``n_unique`` and ``df``.

        Examples:
            >>> ln.ULabel.inspect(["DMSO", "dmso"]).non_validated
            ['dmso']
        """
        return above.inspect(
            cls,
            values,
            field,
            mute=mute,
            organism=organism,
            source=source,
            from_source=from_source,
            strict_source=strict_source,
        )

    @classmethod
    def standardize(
        cls,
        values: Iterable[Any] | str,
        field: Any = None,
        *,
        return_field: Any = None,
        return_mapper: bool = False,
        case_sensitive: bool = False,
        mute: bool = False,
        from_source: bool = True,
        public_aware: bool | None = None,
        synonyms_field: str | None = "synonyms",
        organism: Any = None,
        source: Any = None,
        strict_source: bool = False,
    ) -> Any:
        """Map synonyms and case variants to the registry's values (then the public source's).

        Args:
            values: The values; a single string gives a single string back.
            field: The field the values are of; default the name field.
            return_field: Return this field of the matched records instead (e.g.
                ``"ontology_id"``).
            return_mapper: Return only {value: standardized} for values that change.
            case_sensitive: Map case variants only when False (the default).
            mute: Do not log.
            from_source: Also map with the public source (bio registries). `public_aware` is its
                1.0 name.
            synonyms_field: The pipe-separated synonyms field; None to map case variants only.
            organism: For organism-bound registries.
            source: Pin the public source (a `bt.Source`).
            strict_source: Count only registry records linked to `source`.

        Returns:
            A list like `values` with mapped values replaced (unmapped ones unchanged), or the
            mapper.

        Examples:
            >>> bt.CellType.standardize(["B lymphocyte", "t cell"])
            ['B cell', 'T cell']
        """
        return above.standardize(
            cls,
            values,
            field,
            return_field=return_field,
            return_mapper=return_mapper,
            case_sensitive=case_sensitive,
            mute=mute,
            from_source=from_source if public_aware is None else public_aware,
            synonyms_field=synonyms_field,
            organism=organism,
            source=source,
            strict_source=strict_source,
        )

    @classmethod
    def from_values(
        cls: type[C],
        values: Iterable[Any],
        field: Any = None,
        create: bool = False,
        *,
        organism: Any = None,
        source: Any = None,
        standardize: bool = True,
        from_source: bool = True,
        mute: bool = False,
    ) -> RecordList[C]:  # type: ignore[type-var]
        """Return records for `values`: existing ones, synonyms resolved, new ones unsaved.

        Values are looked up exactly, then (with `standardize`) as synonyms or case variants of
        existing records, then (with `from_source`, bio registries) in the public source. Values
        found nowhere become new plain records when `create`, else they are left out; the log
        says which values were found where.

        Args:
            values: Names, symbols or ids.
            field: The field the values are of; default the name field.
            create: Make new records for values found nowhere.
            organism: For organism-bound registries (Gene): a name or Organism record.
            source: Pin the public source version (a `bt.Source`).
            standardize: Map synonyms and case variants to existing records.
            from_source: Fill records from the public source (bio registries).
            mute: Do not log.

        Returns:
            Existing records and new unsaved ones, in the order of `values`; ``.save()`` writes
            the new ones in one transaction.

        Examples:
            >>> ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
        """
        return above.from_values(
            cls,
            values,
            field,
            create=create,
            organism=organism,
            source=source,
            standardize=standardize,
            from_source=from_source,
            mute=mute,
        )


class HasSynonyms:
    """Edit the pipe-separated ``synonyms`` (and ``abbr``) of a record (LaminDB's HasSynonyms).

    A saved record is saved again after the change (pass ``save=False`` to `add_synonym` to
    wait); an unsaved one is changed in memory only.

    Examples:
        >>> t_cell = bt.CellType.from_source(name="T cell").save()
        >>> t_cell.add_synonym("T cells")
        >>> t_cell.remove_synonym("T-cell")
    """

    if TYPE_CHECKING:  # columns of the registries that use the mixin
        synonyms: Any
        abbr: Any
        id: Any

    def _synonym_set(self) -> list[str]:
        text = self.synonyms or ""
        return [s for s in text.split(SYNONYM_SEPARATOR) if s]

    def _new_synonyms(self, synonym: str | Sequence[str]) -> list[str]:
        given = [synonym] if isinstance(synonym, str) else list(synonym)
        for value in given:
            if not isinstance(value, str):
                raise ValidationError(
                    f"A synonym of {self!r} must be text, got {value!r}; pass a string or a "
                    "list of strings."
                )
            if SYNONYM_SEPARATOR in value:
                raise ValidationError(
                    f"The synonym {value!r} contains {SYNONYM_SEPARATOR!r}, which separates "
                    "synonyms; add the parts one by one."
                )
        return [value.strip() for value in given if value.strip()]

    def _holders_of(self, synonyms: list[str]) -> dict[str, Any]:
        """Return {synonym: other saved record that already has it}."""
        registry: Any = type(self)
        wanted = {s.lower() for s in synonyms}
        session = self._instance().session  # type: ignore[attr-defined]
        lowered = sa.func.lower(registry.synonyms)
        statement = sa.select(registry).where(
            registry.synonyms.is_not(None),
            sa.or_(*(lowered.contains(s, autoescape=True) for s in wanted)),
        )
        if self.id is not None:
            statement = statement.where(registry.id != self.id)
        held: dict[str, Any] = {}
        for record in session.scalars(statement):
            for existing in record._synonym_set():
                if existing.lower() in wanted:
                    held.setdefault(existing, record)
        return held

    def _save_if_saved(self, save: bool | None) -> None:
        if save is None:
            save = sa.inspect(self).has_identity
        if save:
            self.save()  # type: ignore[attr-defined]

    def add_synonym(
        self, synonym: str | Sequence[str], force: bool = False, save: bool | None = None
    ) -> None:
        """Add one or more synonyms to the record.

        Args:
            synonym: A synonym or a list of them.
            force: Add them even when another record of the registry already has them.
            save: Save the record afterwards; default: when it is saved already.

        Raises:
            ValidationError: a synonym contains ``|``, or another record has it (unless `force`).
        """
        new = self._new_synonyms(synonym)
        if not new:
            return
        if not force:
            held = self._holders_of(new)
            if held:
                value, other = next(iter(held.items()))
                raise ValidationError(
                    f"The synonym {value!r} already belongs to {other!r}. Remove it there "
                    "first (remove_synonym), or pass force=True to share it."
                )
        current = self._synonym_set()
        self.synonyms = SYNONYM_SEPARATOR.join(current + [s for s in new if s not in current])
        self._save_if_saved(save)

    def remove_synonym(self, synonym: str | Sequence[str]) -> None:
        """Remove one or more synonyms from the record (saved again when it is saved)."""
        gone = set(self._new_synonyms(synonym))
        kept = [s for s in self._synonym_set() if s not in gone]
        self.synonyms = SYNONYM_SEPARATOR.join(kept) or None
        self._save_if_saved(None)

    def set_abbr(self, value: str) -> None:
        """Set the abbreviation and add it to the synonyms (saved again when it is saved).

        Raises:
            ValidationError: the registry has no ``abbr`` field.
        """
        if "abbr" not in type(self)._field_names():  # type: ignore[attr-defined]
            raise ValidationError(
                f"{type(self).__name__} records have no abbr field; use add_synonym({value!r})."
            )
        self.abbr = value
        if value != getattr(self, "name", None) and value not in self._synonym_set():
            self.add_synonym(value, force=True, save=False)
        self._save_if_saved(None)
