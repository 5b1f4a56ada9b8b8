"""`lamin/schema`: the JSON validation contract an asset declares in its metadata.

Dagster metadata must be JSON, so the schema names registry fields as strings
(``"ULabel.name"``, ``"bionty.CellType.name"``: lamin_core's registry references, read by its one
parser, so every spelling a curator takes works here too). This module parses that JSON (failing
at definition time on unknown keys), resolves the strings to lamin_core registry fields when the
asset runs, and turns a curator's verdict into a `ValidationReport` that both the IO manager
(an error) and the decorator (an asset check result) present::

    {"categoricals": {"cell_medium": "ULabel.name", "cell_type_by_model": "bionty.CellType.name"},
     "var_index": "bionty.Gene.symbol", "organism": "human", "required_features": ["temperature"],
     "add_new_from": ["columns", "cell_medium"]}

The contract may also be a LaminDB 2.x ``ln.Schema`` (saved or not), given as the metadata value
itself or as ``{"schema": ln.Schema(...), "organism": "human"}``: it is written into the JSON as
its definition (features with their dtypes, constraints, slots) and rebuilt in the catalog the
output is saved to, where a feature of the schema that is missing is created::

    {"schema": {"features": [{"name": "cell_type", "dtype": "cat[bionty.CellType]"}],
                "itype": "Feature", "minimal_set": true, ...}}

``add_new_from`` says what may be created on first sight, as ``curator.add_new_from(key)`` does
in a notebook: the values of the listed keys (``"columns"`` for features, a categorical column,
``"var_index"``, or ``"all"``) that are not in their registry yet are registered, then the data
is validated again. It applies only when every failing key is listed, so a dataset that fails
for another reason (a typo in a closed vocabulary) leaves the catalog unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

import lamin_core as ln
from lamin_core.errors import RegistryReferenceError, closest_match, with_suggestions
from lamin_dagster.errors import CurationError, SchemaError

SCHEMA_FIELDS = (
    "add_new_from",
    "categoricals",
    "columns",
    "organism",
    "required_features",
    "schema",
    "var_index",
)
# the keys of the 1.x contract that a ln.Schema states itself
LEGACY_FIELDS = ("categoricals", "columns", "required_features", "var_index")
_SCHEMA_FLAGS = ("minimal_set", "maximal_set", "flexible", "coerce_dtype")
ALL_KEYS = "all"
MAX_VALUES_SHOWN = 20


def did_you_mean(name: str, choices: Any) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = closest_match(name, choices)
    return f" Did you mean {match!r}?" if match else ""


def resolve_field(reference: str) -> Any:
    """Return the registry field a schema string names: ``"bionty.CellType.name"`` -> column.

    The string is a registry reference as everywhere in lamin_core (``"ULabel"``,
    ``"ln.ULabel.name"``, ``"bt.CellType.ontology_id"``; without a field, the name field).

    Raises:
        SchemaError: the string is malformed, or the registry or field does not exist.
    """
    from lamin_core.models.registry import parse_reference

    try:
        registry, field_name = parse_reference(reference)
    except RegistryReferenceError as error:
        raise SchemaError(_reference_problem(reference, error)) from error
    return getattr(registry, field_name)


def _reference_problem(reference: Any, error: RegistryReferenceError) -> str:
    from lamin_core.models.registry import ACCEPTED_FORMS, field_names, reference_text, registries

    if error.registry is not None:
        detail = f"Unknown field {error.name!r} of {error.registry.__name__} in {reference!r}"
        choices = f" Fields: {', '.join(sorted(field_names(error.registry)))}."
    else:
        detail = f"{error.reason[:1].upper()}{error.reason[1:]} in {reference!r}"
        shown = ", ".join(reference_text(registry) for registry in registries())
        choices = f" Registries: {shown}."
    return (
        f"Invalid registry field {reference!r} in lamin/schema. {detail}.{error.hint}{choices} "
        f"Write 'Registry.field' or 'Registry' (its name field): {ACCEPTED_FORMS}."
    )


@dataclass(frozen=True)
class LaminSchema:
    """A parsed `lamin/schema`.

    Attributes:
        categoricals: Column (or ``obs`` column) -> registry field string its values must be in.
        var_index: For AnnData, the registry field the ``var`` index must be in.
        organism: The organism of biological registries (``"human"``, ``"mouse"``).
        required_features: Columns that must be present.
        columns: The registry field that column names are validated against (DataFrames);
            default ``"Feature.name"``.
        add_new_from: Keys whose new values are registered on first sight (``"columns"``, a
            categorical column, ``"var_index"``), or ``("all",)``.

    Examples:
        >>> LaminSchema.parse({"categoricals": {"cell_medium": "ULabel.name"}}).categoricals
        {'cell_medium': 'ULabel.name'}
    """

    categoricals: Mapping[str, str] = field(default_factory=dict)
    var_index: str | None = None
    organism: str | None = None
    required_features: tuple[str, ...] = ()
    columns: str = "Feature.name"
    add_new_from: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None

    @classmethod
    def parse(cls, raw: Any, *, label: str = "the asset") -> LaminSchema:
        """Parse the JSON of a `lamin/schema` entry.

        Raises:
            SchemaError: the JSON is not an object, has unknown keys or values of the wrong type.
        """
        if isinstance(raw, dg.MetadataValue):
            raw = raw.value
        if isinstance(raw, ln.Schema):
            raw = {"schema": raw}
        if isinstance(raw, Mapping) and isinstance(raw.get("schema"), ln.Schema):
            raw = {**raw, "schema": schema_json(raw["schema"])}
        if not isinstance(raw, Mapping):
            raise SchemaError(
                f"lamin/schema of {label} must be a JSON object such as "
                f'{{"categoricals": {{"cell_type": "bionty.CellType.name"}}}}, got {raw!r}.'
            )
        for key in raw:
            if key not in SCHEMA_FIELDS:
                raise SchemaError(
                    f"Unknown key {key!r} in lamin/schema of {label}."
                    f"{did_you_mean(key, SCHEMA_FIELDS)} Keys: {', '.join(SCHEMA_FIELDS)}."
                )
        categoricals = raw.get("categoricals") or {}
        if not isinstance(categoricals, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in categoricals.items()
        ):
            raise SchemaError(
                f"lamin/schema 'categoricals' of {label} must map column names to registry "
                f"fields, e.g. {{'cell_medium': 'ULabel.name'}}; got {categoricals!r}."
            )
        required = raw.get("required_features") or []
        if isinstance(required, str) or not isinstance(required, Sequence):
            raise SchemaError(
                f"lamin/schema 'required_features' of {label} must be a list of column names, "
                f"got {required!r}."
            )
        for key in ("var_index", "organism", "columns"):
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                raise SchemaError(
                    f"lamin/schema {key!r} of {label} must be a string, got {value!r}."
                )
        spec = raw.get("schema")
        keyed: Mapping[str, Any] = raw
        if spec is not None:
            _check_spec(spec, raw, label)
            categoricals = {}
            slots = spec.get("slots") or {}
            var = slots.get("var.T") or slots.get("var")
            keyed = {**raw, "var_index": var["itype"] if var else None}
        add_new = _parse_add_new_from(
            raw.get("add_new_from"),
            _spec_categoricals(spec) if spec is not None else categoricals,
            keyed,
            label,
        )
        return cls(
            schema=spec,
            add_new_from=add_new,
            categoricals=dict(categoricals),
            var_index=raw.get("var_index"),
            organism=raw.get("organism"),
            required_features=tuple(str(name) for name in required),
            columns=raw.get("columns") or "Feature.name",
        )

    def to_json(self) -> dict[str, Any]:
        """Return the schema as the JSON it was parsed from (defaults omitted)."""
        data: dict[str, Any] = {"categoricals": dict(self.categoricals)}
        if self.schema is not None:
            data = {"schema": dict(self.schema)}
        if self.var_index is not None:
            data["var_index"] = self.var_index
        if self.organism is not None:
            data["organism"] = self.organism
        if self.required_features:
            data["required_features"] = list(self.required_features)
        if self.columns != "Feature.name":
            data["columns"] = self.columns
        if self.add_new_from:
            data["add_new_from"] = (
                ALL_KEYS if self.add_new_from == (ALL_KEYS,) else list(self.add_new_from)
            )
        return data

    def may_add_new(self, key: str) -> bool:
        """Whether new values of `key` are registered on first sight."""
        return ALL_KEYS in self.add_new_from or key in self.add_new_from

    def categorical_references(self) -> dict[str, str]:
        """Return column -> registry reference of the categorical columns (of a ln.Schema too)."""
        if self.schema is None:
            return dict(self.categoricals)
        return _spec_categoricals(self.schema)

    def required_columns(self) -> list[str]:
        """Return the columns the output must have: required features, categoricals, schema's."""
        wanted = [*self.categoricals, *self.required_features]
        specs = (
            [] if self.schema is None else [self.schema, self.schema.get("slots", {}).get("obs")]
        )
        for spec in specs:
            if spec and spec.get("minimal_set", True):
                wanted += [feature["name"] for feature in spec.get("features") or []]
        return list(dict.fromkeys(wanted))

    def references(self) -> dict[str, str]:
        """Return key -> the registry field string it is validated against."""
        if self.schema is None:
            references = {"columns": self.columns, **self.categoricals}
            if self.var_index is not None:
                references["var_index"] = self.var_index
            return references
        slots = self.schema.get("slots") or {}
        frame = slots.get("obs", self.schema if not slots else None)
        references = {"columns": frame["itype"]} if frame else {}
        references.update(self.categorical_references())
        var = slots.get("var.T") or slots.get("var")
        if var is not None:
            references["var_index"] = var["itype"]
        return references

    def build(self) -> Any:
        """Return the ln.Schema of the contract in the active catalog (missing features made)."""
        if self.schema is None:
            raise ValueError("build() is for a contract given as a ln.Schema")
        return build_schema(self.schema)

    def categorical_fields(self) -> dict[str, Any]:
        """Return the categoricals with registry fields resolved (``ln.ULabel.name``, ...)."""
        return {column: resolve_field(reference) for column, reference in self.categoricals.items()}

    def var_index_field(self) -> Any:
        """Return the resolved `var_index` field, or None."""
        return resolve_field(self.var_index) if self.var_index is not None else None

    def columns_field(self) -> Any:
        """Return the resolved field that column names are validated against."""
        return resolve_field(self.columns)


def schema_json(schema: Any) -> dict[str, Any]:
    """Return the JSON that declares a ln.Schema (saved or not): features, constraints, slots.

    Examples:
        >>> schema_json(ln.Schema([ln.Feature(name="age", dtype=int).save()]))["features"]
        [{'name': 'age', 'dtype': 'int'}]
    """
    data: dict[str, Any] = {flag: bool(getattr(schema, flag)) for flag in _SCHEMA_FLAGS}
    data["itype"] = schema.itype
    for name in ("name", "description", "otype", "dtype"):
        if getattr(schema, name) is not None:
            data[name] = getattr(schema, name)
    features = list(schema.features)
    if features:
        data["features"] = [{"name": f.name, "dtype": f.dtype} for f in features]
    slots = schema.slots
    if slots:
        data["slots"] = {slot: schema_json(component) for slot, component in slots.items()}
    return data


def build_schema(spec: Mapping[str, Any]) -> Any:
    """Return the ln.Schema a `schema_json` declares, in the active catalog.

    Features are looked up by name (a saved feature of another dtype is an error); missing ones
    are created with their dtype.

    Raises:
        SchemaError: a feature exists with another dtype, or the declaration is invalid.
    """
    try:
        kwargs: dict[str, Any] = {flag: bool(spec.get(flag, False)) for flag in _SCHEMA_FLAGS}
        kwargs["minimal_set"] = bool(spec.get("minimal_set", True))
        for name in ("name", "description", "otype", "dtype"):
            if spec.get(name) is not None:
                kwargs[name] = spec[name]
        slots = spec.get("slots") or {}
        if slots:
            components = {slot: build_schema(component) for slot, component in slots.items()}
            return ln.Schema(slots=components, **kwargs)
        features = []
        for declared in spec.get("features") or []:
            feature = ln.Feature(name=declared["name"], dtype=declared["dtype"])
            features.append(feature if feature.id is not None else feature.save())
        if features:
            return ln.Schema(features, **kwargs)
        return ln.Schema(itype=spec.get("itype", "Feature"), **kwargs)
    except ln.ValidationError as error:
        raise SchemaError(f"The ln.Schema of lamin/schema cannot be used here: {error}") from error


def _spec_categoricals(spec: Mapping[str, Any]) -> dict[str, str]:
    """Return column -> registry reference of a declared schema's categorical features."""
    found: dict[str, str] = {}
    for part in [spec, *(spec.get("slots") or {}).values()]:
        for feature in part.get("features") or []:
            dtype = str(feature["dtype"])
            if dtype.startswith("cat[") and "|" not in dtype:
                found[feature["name"]] = dtype[4:-1]
    return found


def _check_spec(spec: Any, raw: Mapping[str, Any], label: str) -> None:
    if not isinstance(spec, Mapping) or "itype" not in spec:
        raise SchemaError(
            f"lamin/schema 'schema' of {label} must be a ln.Schema (or the JSON it becomes), "
            f"got {type(spec).__name__} {spec!r}."
        )
    clash = [key for key in LEGACY_FIELDS if raw.get(key)]
    if clash:
        raise SchemaError(
            f"lamin/schema of {label} gives a ln.Schema and {', '.join(map(repr, clash))}; the "
            "schema's features say which columns are required and categorical. Give one of them."
        )


def _parse_add_new_from(
    value: Any, categoricals: Mapping[str, str], raw: Mapping[str, Any], label: str
) -> tuple[str, ...]:
    if value is None:
        return ()
    if value == ALL_KEYS:
        return (ALL_KEYS,)
    keys = ["columns", *categoricals]
    if raw.get("var_index") is not None:
        keys.append("var_index")
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise SchemaError(
            f"lamin/schema 'add_new_from' of {label} must be a list of keys or 'all', got "
            f"{value!r}. Keys: {', '.join(keys)}."
        )
    for key in value:
        if key not in keys:
            raise SchemaError(
                f"Unknown key {key!r} in lamin/schema 'add_new_from' of {label}."
                f"{did_you_mean(str(key), keys)} Keys: {', '.join(keys)}, or 'all'."
            )
    return tuple(str(key) for key in value)


@dataclass
class ValidationReport:
    """The verdict on one output: which columns fail and with which values.

    Attributes:
        passed: Whether the output satisfies the schema.
        non_validated: Column (or ``var_index``) -> values not found in its registry field.
        missing: Columns named by the schema (categoricals, required features) that are absent.
        validated: The columns that passed, with the field they were validated against.
        curator: The curator that validated the data (saves the artifact when it passed).
        references: Key -> the registry field string it is validated against.
        suggestions: Key -> non-validated value -> close matches ("did you mean"), best first.
        added: Key -> values registered on first sight (`add_new_from`).
    """

    passed: bool
    non_validated: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    validated: dict[str, str] = field(default_factory=dict)
    curator: Any = None
    references: dict[str, str] = field(default_factory=dict)
    suggestions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    added: dict[str, list[str]] = field(default_factory=dict)

    def shown_values(self, column: str) -> str:
        """Return the failing values of a column, each with its close matches when there are."""
        values = self.non_validated.get(column, [])
        close = self.suggestions.get(column, {})
        shown = [with_suggestions(str(v), close.get(str(v))) for v in values[:MAX_VALUES_SHOWN]]
        more = (
            f" and {len(values) - MAX_VALUES_SHOWN} more" if len(values) > MAX_VALUES_SHOWN else ""
        )
        return ", ".join(shown) + more

    def describe(self) -> str:
        """Return the failures as one sentence per problem."""
        problems = []
        if self.missing:
            problems.append(
                f"columns {', '.join(map(repr, self.missing))} named by the schema are missing"
            )
        for column in self.non_validated:
            where = self.references.get(column, "its registry")
            problems.append(
                f"column {column!r} has values not in {where}: {self.shown_values(column)}"
            )
        return "; ".join(problems) or "the curator rejected it (see the step log)"

    def error(self, label: str, columns: Sequence[str]) -> CurationError:
        """Return the error that reports this failed validation of `label`."""
        message = f"{label} fails its lamin/schema: {self.describe()}."
        if self.missing:
            message += f" The data has columns: {', '.join(columns) or '(none)'}."
        message += " Nothing was saved. Fix the values"
        hints = [
            register_hint(self.references[column], values)
            for column, values in self.non_validated.items()
            if column in self.references
        ]
        message += f", or register them ({'; '.join(hints)})," if hints else ","
        message += " and run again."
        return CurationError(message, non_validated=self.non_validated, missing=self.missing)

    def check_metadata(self) -> dict[str, Any]:
        """Return asset-check metadata: one entry per failing column with its bad values.

        Each failing column's entry lists its values, each followed by the curator's close
        matches (``'B cells' (did you mean 'B cell'?)``); ``suggestions`` has the same as JSON.
        """
        metadata: dict[str, Any] = {
            column: dg.MetadataValue.text(self.shown_values(column))
            for column in self.non_validated
        }
        if self.suggestions:
            metadata["suggestions"] = dg.MetadataValue.json(self.suggestions)
        if self.added:
            metadata["added_on_first_sight"] = dg.MetadataValue.json(self.added)
        if self.missing:
            metadata["missing_columns"] = dg.MetadataValue.text(", ".join(self.missing))
        if self.validated:
            metadata["validated_columns"] = dg.MetadataValue.json(self.validated)
        return metadata


def validate(handler: Any, obj: Any, schema: LaminSchema) -> ValidationReport:
    """Validate `obj` against `schema` with lamin_core's curator, inside an active catalog.

    Raises:
        SchemaError: a registry field of the schema does not exist, or the type cannot be curated.
    """
    present = set(handler.columns(obj))
    missing = [column for column in schema.required_columns() if column not in present]
    if missing:
        return ValidationReport(passed=False, missing=missing)
    curator = _curator(handler, obj, schema)
    passed = _passes(curator)
    added: dict[str, list[str]] = {}
    if not passed and schema.add_new_from:
        failing = _plain_lists(curator.non_validated)
        if all(schema.may_add_new(key) for key in failing):
            # "columns" first: the features it creates give the other keys their dtype
            for key in sorted(failing, key=lambda name: name != "columns"):
                curator.add_new_from(key)
            added = failing
            # a fresh curator sees the catalog as the next run will (the new features' dtypes)
            curator = _curator(handler, obj, schema)
            passed = _passes(curator)
    non_validated = {} if passed else _plain_lists(curator.non_validated)
    suggestions = {} if passed else curator.suggestions
    references = schema.references()
    validated = {k: v for k, v in references.items() if k not in non_validated and k != "columns"}
    return ValidationReport(
        passed=passed,
        non_validated=non_validated,
        validated=validated,
        curator=curator,
        references=references,
        suggestions={k: v for k, v in suggestions.items() if k in non_validated},
        added=added,
    )


def _curator(handler: Any, obj: Any, schema: LaminSchema) -> Any:
    try:
        return handler.curator(obj, schema)
    except ln.ValidationError as error:  # a ln.Schema that does not fit the type of output
        raise SchemaError(f"lamin/schema does not apply to this output: {error}") from error


def _passes(curator: Any) -> bool:
    """Validate; a curator made from a ln.Schema returns None or raises (LaminDB 2.x), a 1.x
    curator returns True or False."""
    try:
        return curator.validate() is not False
    except ln.ValidationError:
        return False


def register_hint(reference: str, values: Sequence[str]) -> str:
    """Return the code that registers `values` in the registry a schema string names."""
    from lamin_core.models.registry import namespace_of, parse_reference

    registry_class, field_name = parse_reference(reference)
    module, registry = namespace_of(registry_class).alias, registry_class.__name__
    shown = [str(v) for v in values[:MAX_VALUES_SHOWN]]
    if (registry, field_name) == ("Feature", "name"):  # features need a dtype
        return "; ".join(f"ln.Feature(name={v!r}, dtype=...).save()" for v in shown)
    field_arg = "" if field_name == "name" else f", field={module}.{registry}.{field_name}"
    return f"{module}.{registry}.from_values({shown!r}{field_arg}, create=True).save()"


def _plain_lists(non_validated: Mapping[str, Any]) -> dict[str, list[str]]:
    return {str(column): [str(v) for v in values] for column, values in non_validated.items()}
