"""Curators: validate a DataFrame or AnnData against the registries, fix it, save it annotated.

A curator holds the dataset and a list of keys (column names, categorical columns, the var
index), each validated against a registry field. `validate()` is read-only until everything
validates: only then are the values found in public sources (genes, cell types) created in their
registries, so a dataset that fails leaves the catalog exactly as it was. `save_artifact()` saves
only a validated dataset, with its feature sets and labels, in one transaction after the file.

Examples:
    >>> curator = ln.Curator.from_anndata(
    ...     adata, var_index=bt.Gene.symbol, categoricals={"cell_medium": ln.ULabel.name},
    ...     organism="human")
    >>> curator.validate()  # a curator made with a ln.Schema returns None (or raises)
    True
    >>> artifact = curator.save_artifact(key="example_datasets/dataset1.h5ad")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lamin_core.annotations.cat_filters import cat_filter_condition
from lamin_core.annotations.dtypes import parse_dtype
from lamin_core.bio.matching import match_values, resolve_field
from lamin_core.curators.columns import column_problem
from lamin_core.curators.keys import CuratedKey, column_key, columns_key
from lamin_core.curators.report import KeyReport, error_text, log_report, logger
from lamin_core.curators.schema_rules import CatManager, coerce_columns, schema_problems
from lamin_core.errors import ValidationError, did_you_mean, quoted
from lamin_core.instance import get_instance
from lamin_core.query.levels import has_levels, resolve_by_level
from lamin_core.storage.serializers import check_column_names

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Run, Schema

__all__ = ["BaseCurator", "CurateLookup"]


class BaseCurator:
    """What DataFrame and AnnData curators share; build them with `Curator.from_df` etc."""

    _slot = "columns"

    def __init__(self, data: Any, frame: pd.DataFrame, organism: str | None) -> None:
        from lamin_core.bio.sources import resolve_organism

        check_column_names(frame, "adata.obs" if frame is not data else "The DataFrame")
        self._data = data
        self._frame = frame  # the table whose columns are features (df, or adata.obs)
        self._organism = resolve_organism(organism) if organism is not None else None
        self._keys: dict[str, CuratedKey] = {}
        self._reports: dict[str, KeyReport] = {}
        self._is_validated: bool | None = None
        self._features: dict[str, Any] = {}
        # set by a ln.Schema (LaminDB 2.x): see lamin_core.curators.schema_rules
        self._schema: Schema | None = None
        self._required: list[str] = []
        self._allowed: set[str] | None = None
        self._ordered: list[str] | None = None  # the member order of an ordered_set schema
        self._coerce_problems: dict[str, str] = {}
        self._coerce = False
        self._coerced: dict[str, pd.Series] = {}  # converted columns, apart from the caller's
        self._index_feature: Any = None  # the Feature the frame's index is validated as
        self._var_slot = "var"
        self._given_artifact: Artifact | None = None  # a saved artifact curated in place

    # --- keys --------------------------------------------------------------------------------

    def _add_columns(self, columns: Any, categoricals: dict[str, Any] | None) -> None:
        from lamin_core.models import Feature

        registry, field = resolve_field(Feature.name if columns is None else columns)
        self._keys["columns"] = columns_key(self._frame, registry, field)
        names = [str(c) for c in self._frame.columns]
        if registry is Feature and field == "name":
            with get_instance().reading() as session:
                found = resolve_by_level(session, Feature, "name", names)
                self._features = found.records  # same-named at one level: reported, not used
        categoricals = dict(categoricals or {})
        for column, feature in self._features.items():  # categorical features need no listing
            dtype = parse_dtype(feature.dtype)
            if column not in categoricals and dtype.is_categorical and not dtype.is_list:
                registry_, field_ = dtype.registries[0]
                categoricals[column] = getattr(registry_, field_)
        for column, field_ref in categoricals.items():
            if column not in names:
                raise ValidationError(
                    f"categoricals names {column!r}, which is not a column."
                    f"{did_you_mean(column, names)} Columns: {', '.join(names)}."
                )
            if column in self._keys:
                raise ValidationError(f"{column!r} clashes with a reserved key; rename the column.")
            registry_, field_ = resolve_field(field_ref)
            self._check_organism(registry_)
            feature = self._features.get(column)
            self._keys[column] = column_key(self._frame, column, registry_, field_, feature)
            if feature is not None and feature.cat_filters:
                filtered = [r for r, _ in parse_dtype(feature.dtype).registries]
            else:
                filtered = []
            if registry_ in filtered:
                with get_instance().reading() as session:  # only the feature's filtered records
                    self._keys[column].conditions = cat_filter_condition(session, feature)

    def _check_organism(self, registry: type) -> None:
        if getattr(registry, "_has_organism", False) and self._organism is None:
            raise ValidationError(
                f"{registry.__name__} records belong to an organism: pass organism='human' (or "
                "'mouse', ...) to the curator."
            )

    def _key(self, name: str) -> CuratedKey:
        if name not in self._keys:
            raise ValidationError(
                f"Unknown key {name!r}.{did_you_mean(name, self._keys)} Keys: "
                f"{', '.join(self._keys)}."
            )
        return self._keys[name]

    def _keys_for(self, key: str) -> list[CuratedKey]:
        return list(self._keys.values()) if key == "all" else [self._key(key)]

    # --- validation --------------------------------------------------------------------------

    def _report(self, key: CuratedKey) -> KeyReport:
        found = key.read()
        report = KeyReport(key, found)
        if found.problem is None:
            report.match = match_values(
                get_instance().session,
                key.registry,
                key.field,
                found.values,
                organism=self._organism,
                use_public=key.use_public,
                conditions=key.conditions,
            )
            self._resolve_records(report)
        if key.name == "columns":
            report.dtype_problems = {**self._feature_problems(), **schema_problems(self)}
        return report

    def _resolve_records(self, report: KeyReport) -> None:
        """Find the record each validated value names; flag values naming several at a level.

        The columns' features the schema lists (or the curator found) win over same-named
        features elsewhere; other values name the record at the shallowest level of their
        registry's type hierarchy (`lamin_core.query.levels`).
        """
        key = report.key
        if not has_levels(key.registry):  # names are unique per registry (genes: no query)
            return
        given = dict(self._features) if key.name == "columns" else {}
        rest = [v for v in report.match.validated if v not in given]
        resolved = resolve_by_level(
            get_instance().session, key.registry, key.field, rest, key.conditions
        )
        records = {**resolved.records, **given}
        report.records = {v: records[v] for v in report.match.validated if v in records}
        report.ambiguous = resolved.ambiguous

    def _feature_problems(self) -> dict[str, str]:
        """Return problems of columns whose Feature does not fit the data or the categorical."""
        problems = {}
        for column, feature in self._features.items():
            dtype = parse_dtype(feature.dtype)
            key = self._keys.get(column)
            if key is not None:
                if not dtype.is_categorical:
                    problems[column] = (
                        f"the feature has dtype {dtype.text!r}, but the column is validated "
                        f"against {key.label}; give the feature a cat[...] dtype"
                    )
                elif key.registry not in [r for r, _ in dtype.registries]:
                    problems[column] = (
                        f"the feature has dtype {dtype.text!r}, but the column is validated "
                        f"against {key.label}"
                    )
                if column in problems:
                    continue
            # labels too: missing values of a non-nullable feature, scalars in a list column
            problem = column_problem(
                self._column(column), dtype, feature, ints_as_floats=self._schema is None
            )
            if problem is not None:
                problems[column] = problem
        index = self._index_feature
        if index is not None:
            problem = column_problem(
                pd.Series(self._frame.index),
                parse_dtype(index.dtype),
                index,
                ints_as_floats=self._schema is None,
                is_index=True,
            )
            if problem is not None:
                problems["index"] = problem.replace("the column", "the index")
        return problems

    def _column(self, name: str) -> pd.Series:
        """Return a column as validated and saved: coerced if the schema or feature says so."""
        coerced = self._coerced.get(name)
        return coerced if coerced is not None else self._frame[name]

    @property
    def dataset(self) -> Any:
        """The dataset as validated (LaminDB 2.x): the caller's object itself unless columns
        were coerced, then a copy holding the coerced columns (see `saved_data`)."""
        return self.saved_data()

    def saved_data(self) -> Any:
        """Return the dataset to save: the caller's, or a copy holding the coerced columns.

        The caller's object is not changed by coercion (standardize() does change it).
        """
        if not self._coerced:
            return self._data
        frame = self._frame.assign(**{str(k): v for k, v in self._coerced.items()})
        if self._data is self._frame:
            return frame
        data = self._data.copy()  # an AnnData: its obs holds the coerced columns
        data.obs = frame
        return data

    def _match_all(self) -> dict[str, KeyReport]:
        with get_instance().reading():  # no idle transaction left open on PostgreSQL
            self._reports = {name: self._report(key) for name, key in self._keys.items()}
        return self._reports

    def validate(self) -> bool | None:
        """Validate every key; when all pass, add the values found in public sources.

        Returns:
            For a 1.x curator (``ln.Curator.from_df(df, categoricals=...)``): True when the
            dataset validates; otherwise False, with a log line per failing key naming its
            values, close matches and the fix; nothing is written. For a curator made with a
            ``ln.Schema`` (LaminDB 2.x): None when the dataset validates.

        Raises:
            ValidationError: a curator made with a ``ln.Schema`` raises instead of returning
                False; the message names each failing key, column and value.
        """
        from lamin_core.bio.models import Gene

        coerce_columns(self)  # the schema's coerce, or a feature's
        var = self._keys.get("var_index")
        if var is not None and var.registry is Gene and var.field == "symbol":
            logger.warning(
                "! indexing datasets with gene symbols can be problematic: "
                "https://docs.lamin.ai/faq/symbol-mapping"
            )
        reports = self._match_all()
        self._is_validated = all(r.is_validated for r in reports.values())
        if self._is_validated:
            self._save_public_records(reports)
        for report in reports.values():
            log_report(report, quiet_success=report.key.name == "columns")
        if self._schema is not None:
            if not self._is_validated:
                raise ValidationError(error_text(list(reports.values())))
            return None
        return self._is_validated

    @property
    def _atomic_curator(self) -> BaseCurator:
        """The curator validating the frame (compatibility view of LaminDB 2.x's internals).

        LaminDB's tests read ``curator._atomic_curator.cat._cat_vectors[...]``; here the
        DataFrame curator validates its frame itself, so this is the curator.
        """
        return self

    @property
    def cat(self) -> CatManager:
        """The categorical keys: ``.non_validated``, ``.standardize(key)``, ``.add_new_from()``."""
        return CatManager(self)

    def _save_public_records(self, reports: dict[str, KeyReport]) -> None:
        """Create, in one transaction, the records of values found only in public sources.

        Registries without a hierarchy (genes) are inserted in bulk: a first dataset with 60,000
        genes must not build 60,000 ORM objects.
        """
        from lamin_core.bio.ancestors import save_records
        from lamin_core.bio.registry import public_rows

        records, bulk, added = [], [], []
        taken: set[tuple[Any, str, Any]] = set()  # two keys on one registry share their values
        for report in reports.values():
            key = report.key
            values = [
                v for v in report.match.from_public if (key.registry, key.field, v) not in taken
            ]
            taken.update((key.registry, key.field, v) for v in values)
            if not values:
                continue
            found = public_rows(key.registry, key.field, values, organism=self._organism)
            if hasattr(key.registry, "parents"):
                records += found.records()
            else:
                bulk.append(found)
            added.append((report, [row[key.field] for row in found.rows]))
        save_records(records, bulk)
        for report, values in added:
            noun = "record" if len(values) == 1 else "records"
            logger.info("• saving validated records of '%s'", report.key.name)
            logger.info(
                '✓ added %d %s from public with %s for "%s": %s',
                len(values), noun, report.key.label, report.key.name, quoted(values),
            )  # fmt: skip
            report.match.validated += report.match.from_public
            report.match.from_public = []

    @property
    def non_validated(self) -> dict[str, list[str]]:
        """Key -> values that do not validate (empty when the dataset validates)."""
        reports = self._reports or self._match_all()
        return {name: r.non_validated for name, r in reports.items() if not r.is_validated}

    @property
    def suggestions(self) -> dict[str, dict[str, list[str]]]:
        """Key -> non-validated value -> close matches (typos), best first; as the log shows.

        Synonyms are not listed here: `standardize` fixes them. Keys and values without a close
        match are left out.
        """
        reports = self._reports or self._match_all()
        found: dict[str, dict[str, list[str]]] = {}
        for name, report in reports.items():
            close = {
                str(value): [str(match) for match in matches]
                for value, matches in report.match.suggestions.items()
                if matches and value not in report.match.synonyms
            }
            if close:
                found[name] = close
        return found

    # --- fixing ------------------------------------------------------------------------------

    def standardize(self, key: str = "all") -> None:
        """Replace synonyms and case variants by the registry's (or public source's) values.

        The data is changed in place (categories of a Categorical are renamed or merged).

        Args:
            key: A key (``"cell_type"``, ``"var_index"``) or ``"all"``.
        """
        for curated in self._keys_for(key):
            report = self._reports.get(curated.name) or self._report(curated)
            mapper = dict(report.match.synonyms)
            if not mapper:
                continue
            curated.write(mapper)
            pairs = ", ".join(f"{k!r} → {v!r}" for k, v in list(mapper.items())[:20])
            logger.info('✓ standardized %d synonyms in "%s": %s', len(mapper), curated.name, pairs)
            self._reports[curated.name] = self._report(curated)
            self._is_validated = None

    def add_new_from(self, key: str, **kwargs: Any) -> None:
        """Create records for the non-validated values of a key (``"all"`` for every key).

        For ``"columns"`` this creates Features (dtype inferred from the column); otherwise
        records of the key's registry (``kwargs`` are passed to each, e.g. ``description=``).
        All are saved in one transaction.

        Raises:
            ValidationError: the key has structural problems (numbers, duplicates) that new
                records cannot fix.
        """
        from lamin_core.bio.ancestors import save_records

        records, added = [], []
        for curated in self._keys_for(key):
            report = self._reports.get(curated.name) or self._report(curated)
            if report.found.problem is not None:
                raise ValidationError(
                    f'Cannot add records for "{curated.name}": {report.found.problem}.'
                )
            values = [v for v in report.match.non_validated if v not in report.match.synonyms]
            if not values:
                continue
            new = [self._new_record(curated, value, kwargs) for value in values]
            records += new
            added.append((curated, values))
        save_records(records)
        for curated, values in added:
            noun = "record" if len(values) == 1 else "records"
            logger.info(
                '✓ added %d %s with %s for "%s": %s',
                len(values), noun, curated.label, curated.name, quoted(values),
            )  # fmt: skip
            if curated.name == "columns":
                self._refresh_features()
            self._reports[curated.name] = self._report(curated)
        self._is_validated = None

    def _refresh_features(self) -> None:
        from lamin_core.models import Feature

        names = [str(c) for c in self._frame.columns if str(c) not in self._features]
        conditions = self._keys["columns"].conditions
        found = resolve_by_level(get_instance().session, Feature, "name", names, conditions)
        self._features.update(found.records)
        for name, key in self._keys.items():
            if name in self._features:
                key.feature = self._features[name]

    def _new_record(self, key: CuratedKey, value: Any, kwargs: dict[str, Any]) -> Any:
        if key.type_record is not None:  # a record of the key's type (a feature of its type)
            kwargs = {"type": key.type_record, **kwargs}
        if key.name == "columns":
            dtype = self._infer_dtype(str(value))
            return key.registry(**{key.field: value, "dtype": dtype, **kwargs})
        extra = dict(kwargs)
        if getattr(key.registry, "_has_organism", False):
            from lamin_core.bio.registry import organism_record

            extra.setdefault("organism", organism_record(get_instance().session, self._organism))
        return key.registry(**{key.field: value, **extra})

    def _infer_dtype(self, column: str) -> str:
        key = self._keys.get(column)
        if key is not None:
            prefix = "bionty." if key.registry.__module__.startswith("lamin_core.bio") else ""
            return f"cat[{prefix}{key.registry.__name__}]"
        kind = self._frame[column].dtype
        if isinstance(kind, pd.CategoricalDtype):
            return "cat[ULabel]"
        return {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime"}.get(
            kind.kind, "str"
        )

    def lookup(self, public: bool = False) -> CurateLookup:
        """Return the valid values of each key as attributes (``lookup["cell_medium"].dmso``).

        Args:
            public: Look up in the public sources of bio registries instead of the registries.
        """
        return CurateLookup(self._keys, public=public, organism=self._organism)

    # --- saving ------------------------------------------------------------------------------

    def _artifact(
        self, key: str | None, description: str | None, revises: Any, run: Any
    ) -> Artifact:
        raise NotImplementedError

    def save_artifact(
        self,
        key: str | None = None,
        *,
        description: str | None = None,
        revises: Artifact | None = None,
        run: Run | None = None,
    ) -> Artifact:
        """Save the validated dataset as an artifact with its feature sets and labels.

        Args:
            key: The artifact key, e.g. ``"example_datasets/dataset1.h5ad"``.
            description: A description.
            revises: An artifact this one is a new version of.
            run: The run that creates it; default: the tracked run.

        Raises:
            ValidationError: the dataset does not validate; the message lists every failing key
                with its values and fixes, and nothing is saved.
        """
        from lamin_core.curators.annotate import save_curated

        if self._is_validated is not True:
            self.validate()  # a 2.x curator raises here, a 1.x one returns False
        if self._is_validated is not True:
            raise ValidationError(error_text(list(self._reports.values())))
        if self._given_artifact is not None:
            artifact = self._annotated_artifact(key, description, revises)
        else:
            artifact = self._artifact(key, description, revises, run)
        return save_curated(self, artifact)

    def _annotated_artifact(
        self, key: str | None, description: str | None, revises: Any
    ) -> Artifact:
        """Return the artifact the curator was given, to be annotated rather than copied."""
        artifact = self._given_artifact
        assert artifact is not None
        if revises is not None or (key is not None and key != artifact.key):
            raise ValidationError(
                f"This curator annotates the artifact it was given ({artifact.key!r}); call "
                "save_artifact() without key= or revises=, or curate the loaded object to save "
                "a new artifact."
            )
        if self._coerced:
            raise ValidationError(
                f"Columns {', '.join(map(repr, self._coerced))} of artifact {artifact.key!r} "
                "validate only once coerced, and its stored file holds the values before; save "
                "the coerced data as a new version: "
                f"DataFrameCurator(curator.dataset, schema).save_artifact(key={artifact.key!r})."
            )
        if description is not None:
            artifact.description = description
        return artifact

    def __repr__(self) -> str:
        if self._schema is not None:  # LaminDB 2.x: the schema and whether it validated
            state = "validated" if self._is_validated else "unvalidated"
            name = self._schema.name or self._schema.uid
            return f"{type(self).__name__}(Schema: {name}, {state})"
        keys = ", ".join(f"{k}: {v.label}" for k, v in self._keys.items())
        return f"{type(self).__name__}({keys})"


class CurateLookup:
    """Valid values of a curator's keys as attributes, from the registries or public sources."""

    def __init__(self, keys: dict[str, CuratedKey], *, public: bool, organism: str | None) -> None:
        self._keys, self._public, self._organism = keys, public, organism

    def __getitem__(self, name: str) -> Any:
        if name not in self._keys:
            raise ValidationError(
                f"Unknown key {name!r}.{did_you_mean(name, self._keys)} Keys: "
                f"{', '.join(self._keys)}."
            )
        key = self._keys[name]
        if self._public and hasattr(key.registry, "public"):
            return key.registry.public(organism=self._organism).lookup(key.field)
        return key.registry.lookup(key.field)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __dir__(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        where = "public sources" if self._public else "registries"
        first = next(iter(self._keys))
        return f"Lookup of {', '.join(self._keys)} in the {where}; e.g. lookup[{first!r}]"
