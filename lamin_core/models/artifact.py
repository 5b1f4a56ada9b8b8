"""Artifact and Collection: the data the catalog tracks, and ordered groups of it.

An artifact is a file, a folder or an in-memory object (DataFrame, AnnData) serialised to a file.
Its content is hashed: saving content the catalog already has returns the existing artifact;
saving new content under an existing key makes the next version.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import sqlalchemy as sa
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lamin_core.binding import Accessor, above
from lamin_core.errors import ValidationError
from lamin_core.models.annotation import FeatureValue, ULabel, run_column
from lamin_core.models.base import Record, created_at_column, created_by_column
from lamin_core.models.provenance import (
    IsVersioned,
    Run,
    Storage,
    Transform,
    User,
    run_input_artifact,
)
from lamin_core.models.schema import Schema, artifact_schema
from lamin_core.storage.paths import validate_key, validate_suffix

if TYPE_CHECKING:
    import anndata as ad
    import pandas as pd
    import pyarrow.dataset as pads
    from upath import UPath

    from lamin_core.artifacts.mapped import MappedCollection
    from lamin_core.models.space import Space
    from lamin_core.query import QuerySet


def link_table(owner: str, target: str, *, with_feature: bool = False) -> sa.Table:
    """Return the link table ``<owner>_<target>`` between two registries' records.

    The unique constraint (<owner>_id, <target>_id[, feature_id]) is also the index from an
    owner (an artifact) to its records; the index (<target>_id, <owner>_id) goes the other way
    and answers ``filter(ulabels=...)`` from the index alone, already in owner order.
    """
    name = f"{owner}_{target}"
    columns = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(f"{owner}_id", ForeignKey(f"{owner}.id", ondelete="CASCADE"), nullable=False),
        sa.Column(f"{target}_id", ForeignKey(f"{target}.id", ondelete="CASCADE"), nullable=False),
    ]
    if with_feature:
        columns.append(
            sa.Column("feature_id", ForeignKey("feature.id", ondelete="CASCADE"), index=True)
        )
    return sa.Table(
        name,
        Record.metadata,
        *columns,
        sa.UniqueConstraint(
            f"{owner}_id", f"{target}_id", *(["feature_id"] if with_feature else [])
        ),
        sa.Index(f"ix_{name}_{target}_id", f"{target}_id", f"{owner}_id"),
    )


artifact_ulabel = link_table("artifact", "ulabel", with_feature=True)
artifact_featurevalue = link_table("artifact", "featurevalue")
artifact_featureset = link_table("artifact", "featureset")
artifact_featureset.append_column(sa.Column("slot", String(64)))


LATEST_KEY_INDEX = "ux_artifact_latest_key"
# fields computed from the content when an artifact is made: never passed by the caller
CONTENT_FIELDS = ("hash", "hash_type", "size", "n_files", "key_is_virtual")
# the kind of the artifacts that document runs (reports, environments), LaminDB's spelling
RUN_KIND = "__lamindb_run__"


class Artifact(IsVersioned):
    """A file, folder, DataFrame or AnnData object with content hash, key and provenance.

    Args:
        data: A local path, a URL (``s3://bucket/file.csv``), a folder, a DataFrame or AnnData.
        key: A relative path in the catalog, e.g. ``"raw/sample1.fastq.gz"``; versions share it.
        description: A human-readable description.
        revises: An artifact this one is a new version of.
        run: The run that creates the artifact; default: the tracked run, if any.
        space: The space the artifact belongs to (`ln.Space`); default: "all".

    Examples:
        >>> artifact = ln.Artifact("raw/sample.fastq.gz", key="raw/sample.fastq.gz").save()
        >>> ln.Artifact.from_df(df, key="iris/iris.parquet").save().load()

    Once saved, the fields that say which bytes an artifact is and where they lie (uid, suffix,
    hash, hash_type, size, n_files, storage, key_is_virtual, and the key of a file registered in
    place) cannot change: save a new artifact or version instead. A virtual key is only a name
    and may change.
    """

    __tablename__ = "artifact"
    _has_branch = True
    # one latest version per key and storage: two processes saving the first version of a new
    # key at once cannot start two version families (the second save becomes version 2)
    # (PostgreSQL's predicate is added when the table is created: `_latest_key_on_postgresql`)
    __table_args__ = (
        sa.Index(
            LATEST_KEY_INDEX,
            "storage_id",
            "key",
            unique=True,
            sqlite_where=sa.text("is_latest = 1 AND key IS NOT NULL"),
        ),
    )
    _stem_length = 16
    _name_field = "key"
    _search_fields = ("key", "description")
    # LaminDB 2.x's name of feature_sets in lookups: filter(schemas__in=...)
    _field_aliases: ClassVar[dict[str, str]] = {"schemas": "feature_sets"}
    _repr_hidden = frozenset({"id"})
    # queries leave out the files documenting runs unless a lookup names `kind` (as LaminDB)
    _hidden_by_default = ("kind", (RUN_KIND,))
    _immutable_fix = "save a new artifact or version instead"

    key: Mapped[str | None] = mapped_column(String(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    suffix: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str | None] = mapped_column(String(32))
    otype: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash_type: Mapped[str | None] = mapped_column(String(16))
    n_files: Mapped[int | None] = mapped_column(Integer)
    n_observations: Mapped[int | None] = mapped_column(BigInteger)
    key_is_virtual: Mapped[bool] = mapped_column(Boolean, default=True)
    storage_id: Mapped[int] = mapped_column(ForeignKey("storage.id"), index=True)
    transform_id: Mapped[int | None] = mapped_column(
        ForeignKey("transform.id", ondelete="SET NULL"), index=True
    )
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    storage: Mapped[Storage] = relationship()
    transform: Mapped[Transform | None] = relationship()
    run: Mapped[Run | None] = relationship(back_populates="output_artifacts", foreign_keys=[run_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    input_of_runs: Mapped[list[Run]] = relationship(
        secondary=run_input_artifact, back_populates="input_artifacts"
    )
    ulabels: Mapped[list[ULabel]] = relationship(secondary=artifact_ulabel, viewonly=True)
    feature_sets: Mapped[list[Schema]] = relationship(
        secondary=artifact_featureset, back_populates="artifacts", viewonly=True
    )
    # the schema the artifact was validated against (from_df(..., schema=), a curator)
    schema: Mapped[Schema | None] = relationship(
        secondary=artifact_schema, back_populates="validated_artifacts", viewonly=True
    )
    feature_values: Mapped[list[FeatureValue]] = relationship(
        secondary=artifact_featurevalue, viewonly=True
    )
    collections: Mapped[list[Collection]] = relationship(
        secondary="collection_artifact", back_populates="artifacts", viewonly=True
    )
    # artifact.features / artifact.labels manage annotations (lamin_core.annotations);
    # ln.Artifact.features.filter(...) queries by features
    features = Accessor()  # lamin_core.annotations.accessors.features
    labels = Accessor()  # lamin_core.annotations.accessors.labels

    def __init__(
        self,
        data: str | os.PathLike[str] | Any,
        *,
        key: str | None = None,
        description: str | None = None,
        revises: Artifact | None = None,
        run: Run | None = None,
        kind: str | None = None,
        version: str | None = None,
        **kwargs: Any,
    ) -> None:
        for name in CONTENT_FIELDS:
            if name in kwargs:
                raise ValidationError(
                    f"Cannot pass {name}={kwargs[name]!r} to Artifact: {name} is computed from "
                    "the content, so that it always describes the stored bytes. Omit it."
                )
        staged = above.stage(data, key=key, kind=kind)
        fields = {
            "key": staged.key,
            "description": description,
            "suffix": staged.suffix,
            "kind": staged.kind,
            "otype": staged.otype,
            "size": staged.size,
            "hash": staged.hash,
            "hash_type": staged.hash_type,
            "n_files": staged.n_files,
            "n_observations": staged.n_observations,
            "key_is_virtual": staged.key_is_virtual,
            "version": version,
        }
        try:
            super().__init__(**{**fields, **kwargs})  # a valid uid= or suffix= is kept
        except BaseException:
            staged.discard()  # a staging file of an artifact that never exists
            raise
        if run is not None:
            self.run = run
        self._staged = staged
        self._revises = revises

    @sa.orm.validates(
        "suffix", "hash", "hash_type", "size", "n_files", "key_is_virtual", "storage_id", "storage"
    )
    def _validate_identity(self, name: str, value: Any) -> Any:
        if name == "storage":
            is_same = getattr(value, "id", None) == self.storage_id
            self._keeps_saved_value(name, value, is_same=is_same)
        elif not self._keeps_saved_value(name, value) and name == "suffix":
            validate_suffix(value)
        return value

    @sa.orm.validates("key")
    def _validate_key(self, name: str, value: Any) -> Any:
        # the key of a file registered in place is its location; a virtual key is only a name
        if self.key_is_virtual is False and self._keeps_saved_value(name, value):
            return value
        return validate_key(value)

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        *,
        key: str | None = None,
        description: str | None = None,
        revises: Artifact | None = None,
        run: Run | None = None,
        space: Space | None = None,
        schema: Schema | None = None,
    ) -> Artifact:
        """Create an artifact from a pandas DataFrame, stored as parquet (alias `from_dataframe`).

        Args:
            df: The DataFrame.
            key: A relative path in the catalog, e.g. ``"iris/iris.parquet"``.
            description: A human-readable description.
            revises: An artifact this one is a new version of.
            run: The run that creates the artifact; default: the tracked run, if any.
            space: The space the artifact belongs to.
            schema: A ``ln.Schema`` the DataFrame must fit: it is validated now, and ``save()``
                annotates the artifact with its features and labels (LaminDB 2.x).

        Raises:
            ValidationError: `df` is not a DataFrame, or it fails `schema` (the message names
                the columns and values; nothing is saved).
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise ValidationError(
                f"Artifact.from_df() expects a pandas DataFrame, got {type(df).__name__}. "
                "Use ln.Artifact(path) for files or Artifact.from_anndata() for AnnData."
            )
        curator = above.curate(df, schema) if schema is not None else None
        extra: dict[str, Any] = {"space": space} if space is not None else {}
        if curator is not None:  # the coerced values, if the schema coerces
            df = curator.saved_data()
        artifact = cls(df, key=key, description=description, revises=revises, run=run, **extra)
        if curator is not None:
            artifact.__dict__["_curator"] = curator  # save() annotates from it
        return artifact

    from_dataframe = from_df

    @classmethod
    def from_anndata(
        cls,
        adata: ad.AnnData | str | os.PathLike[str],
        *,
        key: str | None = None,
        description: str | None = None,
        revises: Artifact | None = None,
        run: Run | None = None,
        space: Space | None = None,
        schema: Schema | None = None,
    ) -> Artifact:
        """Create an artifact from an AnnData object (stored as h5ad) or an .h5ad/.zarr path.

        Args:
            adata: The AnnData object, or a path to one.
            key: A relative path in the catalog, e.g. ``"datasets/pbmc.h5ad"``.
            description: A human-readable description.
            revises: An artifact this one is a new version of.
            run: The run that creates the artifact; default: the tracked run, if any.
            space: The space the artifact belongs to.
            schema: A composite ``ln.Schema(otype="AnnData", slots={...})`` the object must fit:
                validated now, annotated by ``save()`` (LaminDB 2.x).

        Raises:
            ValidationError: `adata` is neither AnnData nor a path to one, or it fails `schema`
                (nothing is saved).
        """
        import anndata as ad

        if not isinstance(adata, (ad.AnnData, str, os.PathLike)):
            raise ValidationError(
                f"Artifact.from_anndata() expects an AnnData object or a path, got "
                f"{type(adata).__name__}."
            )
        curator = above.curate(adata, schema) if schema is not None else None
        extra: dict[str, Any] = {"space": space} if space is not None else {}
        if curator is not None:  # the coerced obs columns, if the schema coerces
            adata = curator.saved_data()
        artifact = cls(adata, key=key, description=description, revises=revises, run=run, **extra)
        artifact.otype = "AnnData"
        artifact.kind = "dataset"
        if curator is not None:
            artifact.__dict__["_curator"] = curator  # save() annotates from it
        return artifact

    def save(self) -> Artifact:
        """Store the content and write the record; return the saved artifact.

        Content the catalog already has is not stored twice: the existing artifact is returned
        (use the return value). New content under an existing key becomes its next version.

        An artifact made with ``schema=`` is annotated with the features and labels its
        curator validated, in the same call.

        Raises:
            StorageError: the content cannot be written; nothing is recorded.
        """
        if "_curator" in self.__dict__:
            return above.save_with_curator(self)
        return above.save_artifact(self)

    _commits_itself = True

    @classmethod
    def _save_many(cls, records: Sequence[Record]) -> None:
        """Save artifacts one by one: each writes its file before its row."""
        for record in records:
            record.save()

    def delete(self, permanent: bool | None = None, *, storage: bool | None = None) -> None:
        """Move the artifact to the trash, or remove its record and stored content for good.

        In the trash the artifact keeps its uid and its stored content; if it was the latest
        version, the previous version becomes the latest (`restore()` reverses both).

        Args:
            permanent: True removes the record and the content at once; None (the default)
                moves the artifact to the trash (see `Record.delete`).
            storage: With a permanent removal, delete the stored file too. Default: yes for
                content the catalog stored itself, no for files registered in place.

        Raises:
            ValidationError: the artifact is already in the trash and `permanent` is None.
        """
        self._trash_or_remove(permanent, lambda: above.delete_artifact(self, storage=storage))

    # --- access ----------------------------------------------------------------------------------

    @property
    def path(self) -> UPath:
        """The location of the stored content."""
        return above.artifact_path(self)

    def cache(self) -> Path:
        """Return a local path to the content, downloading it if the storage is remote."""
        return above.cache(self)

    def load(self) -> Any:
        """Load the content into memory: DataFrame, AnnData, dict or str by suffix.

        Raises:
            ValidationError: no loader handles the suffix; use `cache()` or `open()`.
        """
        return above.load(self)

    def open(self, mode: str = "r", **kwargs: Any) -> Any:
        """Open the stored content for streaming reads, or as a file object of its bytes.

        With the default mode, nothing is loaded up front: the returned object reads from
        storage (local or remote) what is asked of it.

        Args:
            mode: ``"r"`` to stream by format (below); ``"rb"`` or ``"rt"`` for a read-only
                file object of any single-file artifact.
            **kwargs: Passed to the format's opener in mode ``"r"``:
                `pyarrow.dataset.dataset`, `anndata.read_h5ad` or `zarr.open_group`.

        Returns:
            In mode ``"r"``: a `pyarrow.dataset.Dataset` for ``.parquet``, ``.csv``,
            ``.arrow``/``.feather``/``.ipc``, ``.orc`` files and folders of them; a backed
            AnnData for ``.h5ad`` (a context manager that closes the file); a read-only zarr
            group for ``.zarr`` folders. Otherwise a file object.

        Raises:
            ValidationError: mode ``"r"`` on a suffix no opener handles (the message lists
                those that exist), or an unknown mode.
            StorageError: a mode that writes (artifacts are immutable), missing content, or
                ``"rb"`` on a folder.

        Examples:
            >>> dataset = artifact.open()
            >>> dataset.to_table(filter=pc.field("score") > 0.9, columns=["cell", "score"])
            >>> with h5ad_artifact.open() as adata:
            ...     adata[:100].to_memory()
            >>> with artifact.open("rb") as stream:
            ...     header = stream.read(4)
        """
        if mode == "r":
            return above.open_backed(self, **kwargs)
        if kwargs:
            raise ValidationError(
                f"artifact.open({mode!r}) takes no options, got {', '.join(sorted(kwargs))}; "
                "options go to the streaming opener, in mode 'r'."
            )
        return above.open_artifact(self, mode)

    @property
    def schemas(self) -> Any:
        """The feature sets of the artifact (LaminDB 2.x's name of `feature_sets`)."""
        return self.feature_sets

    def view_lineage(self, path: str | Path | None = None) -> Path | None:
        """Draw the runs, transforms and input artifacts that led to this artifact.

        With graphviz's ``dot`` on PATH it draws the graph; without it, an SVG is drawn in
        Python. A notebook shows the drawing inline; a script saves it to a temporary file and
        prints where.

        Args:
            path: Save the drawing here; the suffix picks the format (.svg or .dot; with
                graphviz also .png and .pdf).

        Returns:
            The path of the file written, or None when the drawing was shown inline.

        Raises:
            ValidationError: the suffix names no format, or one that needs graphviz, which is
                not installed.
            StorageError: the file cannot be written.

        Examples:
            >>> artifact.view_lineage("lineage.svg")
            PosixPath('lineage.svg')
        """
        return above.view_lineage(self, path)


collection_artifact = sa.Table(
    "collection_artifact",
    Record.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("collection_id", ForeignKey("collection.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "artifact_id", ForeignKey("artifact.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.UniqueConstraint("collection_id", "artifact_id"),
)


@sa.event.listens_for(Artifact.__table__, "before_create")
def _latest_key_on_postgresql(table: sa.Table, connection: sa.Connection, **_kw: Any) -> None:
    """Make the latest-key index partial on PostgreSQL as well, as the table is created.

    Declared on the index, ``postgresql_where`` would import PostgreSQL's dialect with the
    models: tens of milliseconds of every start, SQLite catalogs included.
    """
    if connection.dialect.name == "postgresql":
        index = next(index for index in table.indexes if index.name == LATEST_KEY_INDEX)
        index.dialect_options["postgresql"]["where"] = sa.text("is_latest AND key IS NOT NULL")


class Collection(IsVersioned):
    """An ordered, versioned group of artifacts, e.g. the shards of a dataset.

    Examples:
        >>> ln.Collection([artifact1, artifact2], key="scrna/batch1").save()
    """

    __tablename__ = "collection"
    _has_branch = True
    _stem_length = 16
    _name_field = "key"
    _search_fields = ("key", "description")

    key: Mapped[str] = mapped_column(String(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str | None] = mapped_column(String(64), index=True)
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    # the schema of its artifacts (LaminDB 2.x's Collection(schema=)); new versions keep it
    schema_id: Mapped[int | None] = mapped_column(
        ForeignKey("featureset.id", ondelete="SET NULL"), index=True
    )

    run: Mapped[Run | None] = relationship(foreign_keys=[run_id])
    schema: Mapped[Schema | None] = relationship(foreign_keys=[schema_id])
    artifacts: Mapped[list[Artifact]] = relationship(
        secondary=collection_artifact,
        back_populates="collections",
        order_by=collection_artifact.c.position,
    )

    def __init__(
        self,
        artifacts: Artifact | list[Artifact],
        *,
        key: str,
        description: str | None = None,
        revises: Collection | None = None,
        **kwargs: Any,
    ) -> None:
        members = [artifacts] if isinstance(artifacts, Artifact) else list(artifacts)
        unsaved = [a for a in members if not isinstance(a, Artifact) or a.id is None]
        if unsaved:
            raise ValidationError(
                f"Collection {key!r}: every member must be a saved Artifact; got {unsaved[0]!r}. "
                "Save the artifacts first."
            )
        super().__init__(
            key=key, description=description, hash=above.collection_hash(members), **kwargs
        )
        self._members = members
        self._revises = revises

    def view_lineage(self, path: str | Path | None = None) -> Path | None:
        """Draw the collection with its artifacts and the runs that made them.

        Args:
            path: Where to save the drawing (its suffix picks the format); default: inline in
                a notebook, else an SVG in a temporary folder.

        Examples:
            >>> collection.view_lineage("lineage.svg")
        """
        return above.view_lineage(self, path)

    def append(self, artifact: Artifact, run: Run | None = None) -> Collection:
        """Return a new version of the collection with `artifact` after its members (unsaved;
        this version stays as it is).

        Examples:
            >>> collection_v2 = collection.append(artifact).save()
        """
        return Collection(
            [*self.ordered_artifacts, artifact],
            key=self.key,
            description=self.description,
            revises=self,
            schema=self.schema,
            run=run,
        )

    def _after_links_changed(self, session: sa.orm.Session) -> None:
        """Rehash the members after ``collection.artifacts.add(...)`` and the like."""
        members = session.scalars(
            sa.select(Artifact)
            .join(collection_artifact, collection_artifact.c.artifact_id == Artifact.id)
            .where(collection_artifact.c.collection_id == self.id)
            .order_by(collection_artifact.c.position)
        ).all()
        self.hash = above.collection_hash(list(members))

    @property
    def ordered_artifacts(self) -> QuerySet[Artifact]:
        """The members as a QuerySet, in the order the collection was made with.

        Raises:
            ValidationError: the collection is not saved.

        Examples:
            >>> collection.ordered_artifacts.to_list("key")
            ['shard/0.parquet', 'shard/1.parquet']
        """
        if self.id is None:
            raise ValidationError(
                f"Collection {self.key!r} is not saved; save it before reading ordered_artifacts."
            )
        link = collection_artifact.c
        position = (
            sa.select(link.position)
            .where(link.collection_id == self.id, link.artifact_id == Artifact.id)
            .scalar_subquery()
        )
        members = sa.select(link.artifact_id).where(link.collection_id == self.id)
        queryset = above.queryset(Artifact, instance=self._instance())
        return queryset.filter(Artifact.id.in_(members)).in_default_order(position)

    def save(self) -> Collection:
        """Write the collection and its ordered members; return it (or the identical existing)."""
        return above.save_collection(self)

    _commits_itself = True

    @classmethod
    def _save_many(cls, records: Sequence[Record]) -> None:
        """Save collections one by one: each with its ordered members."""
        for record in records:
            record.save()

    def load(self) -> Any:
        """Load and concatenate the members' DataFrames (or AnnData objects)."""
        return above.load_collection(self)

    def open(self, **kwargs: Any) -> pads.Dataset:
        """Return one pyarrow dataset over every member's tabular files, read on demand.

        Args:
            **kwargs: Passed to `pyarrow.dataset.dataset` (``schema``, ``partitioning``).

        Raises:
            ValidationError: a member is not a tabular file (parquet, csv, arrow, orc) or
                folder of them, or the members mix formats.

        Examples:
            >>> collection.open().to_table(filter=pc.field("batch") == "b2").to_pandas()
        """
        return above.open_collection(self, **kwargs)

    def mapped(
        self,
        layers_keys: str | list[str] | None = None,
        obs_keys: str | list[str] | None = None,
        obsm_keys: str | list[str] | None = None,
        obs_filter: dict[str, Any] | None = None,
        join: Literal["inner", "outer"] | None = "inner",
        encode_labels: bool | list[str] = True,
        unknown_label: str | dict[str, str] | None = None,
        dtype: str | None = None,
        stream: bool = False,
    ) -> MappedCollection:
        """Return a map-style dataset over the rows of the members' AnnData files.

        Rows are read one at a time from the ``.h5ad`` files (backed, never loaded whole), so
        it can feed a PyTorch ``DataLoader`` over more data than fits in memory; worker
        processes open their own file handles.

        Args:
            layers_keys: What each row returns: ``"X"`` (the default), layer names, ``"raw.X"``.
            obs_keys: ``.obs`` columns to return with each row.
            obsm_keys: ``.obsm`` arrays to return with each row, as ``"obsm_<key>"``.
            obs_filter: Keep only rows whose obs values are among these, e.g.
                ``{"cell_type": ["T cell", "B cell"]}``.
            join: How to align the members' variables: ``"inner"`` keeps those all share,
                ``"outer"`` all of them (missing values are 0), None requires the same number.
            encode_labels: Return obs values as integers (``mapped.encoders`` maps them
                back; missing values are -1); a list limits it to those keys.
            unknown_label: A label (or one per key) encoded as -1, like a missing value.
            dtype: The dtype of the returned arrays (None keeps the stored one).
            stream: For remote storage, read rows through the network instead of caching
                each file locally first.

        Raises:
            ValidationError: a member is not ``.h5ad``, an obs key or layer is unknown, a matrix
                is CSC, or the variables cannot be joined as asked.

        Examples:
            >>> with collection.mapped(obs_keys=["cell_type"]) as dataset:
            ...     loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
            ...     for batch in loader:
            ...         ...
        """
        return above.mapped_collection(
            self,
            layers_keys,
            obs_keys,
            obsm_keys=obsm_keys,
            obs_filter=obs_filter,
            join=join,
            encode_labels=encode_labels,
            unknown_label=unknown_label,
            dtype=dtype,
            stream=stream,
        )
