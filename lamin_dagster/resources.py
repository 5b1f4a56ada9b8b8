"""`LaminResource`: a catalog for ops and assets, opened once per run and never made global.

The resource and `LaminIOManager` share their configuration (`storage`, `db`, `user`,
`create`) and the code that opens the catalog, so both always point at the same one. The catalog
is opened with ``ln.init(..., activate=False)`` when the run's resources are set up: a missing
catalog is created, as a Dagster user expects of a resource configured with a path (dagster-duckdb
creates its database file); with ``create=False`` it is opened with ``ln.connect`` and a missing
catalog fails there, with lamin_core's message in the step log. An unreachable database fails
there too. The catalog is released when the resources are torn down: its connections stay open
for the next run of this process (`lamin_dagster.catalogs`). Catalog calls made on a
step's behalf run inside ``instance.activate()``, which sets the active catalog for this context
only: code elsewhere in the process that uses another catalog is not affected.

At set-up they also close the catalog Runs of Dagster runs that have finished since (a step
killed with its process cannot close its own Run; see `lamin_dagster.run_status`).

With `openlineage_url` or `openlineage_file` set, every catalog Run closed through the catalog
they opened (by the step hooks, at set-up, by the run-end sensors) is sent as OpenLineage events
(START, then COMPLETE/FAIL/ABORT; `lamin_core.lineage.openlineage`) once it is committed. A
receiver that is down costs a warning in the log, never the step.
"""

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

import lamin_core as ln
from lamin_dagster.catalogs import CatalogKey, acquire, catalog_key, release
from lamin_dagster.context import step_info
from lamin_dagster.mapping import StepInfo, job_run_spec, step_run_spec
from lamin_dagster.run_status import close_finished_runs
from lamin_dagster.runs import on_runs_finished, start_step_run

if TYPE_CHECKING:
    from lamin_core import Instance

# a warning shows in the step's log in Dagster's UI, and in the Python log elsewhere
logger = dg.get_dagster_logger("lamin_dagster")


class CatalogResource(dg.ConfigurableResource):
    """The configuration and catalog handling shared by `LaminResource` and `LaminIOManager`."""

    storage: str = Field(
        description=(
            "The catalog's storage root: a local folder (./my-catalog) or a URL such as "
            "s3://bucket/prefix, as given to ln.init(storage=...)."
        )
    )
    db: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the catalog database, e.g. postgresql://user@host:5432/lamin. "
            "Default: the SQLite file under storage (<storage>/.lamindb/lamin.db)."
        ),
    )
    user: str | None = Field(
        default=None,
        description=(
            "Handle of the user recorded as creator of runs and artifacts. Default: the user "
            "saved by the last ln.init/ln.connect, else the system user."
        ),
    )
    create: bool = Field(
        default=True,
        description=(
            "Create the catalog on first use when there is none at storage/db (as ln.init "
            "does; safe when several step processes start at once). False: a missing catalog "
            "is an error, for teams whose catalogs are created by an administrator."
        ),
    )

    openlineage_url: str | None = Field(
        default=None,
        description=(
            "Post each catalog Run, as it finishes, as OpenLineage events to this receiver, "
            "e.g. http://localhost:5000 (Marquez; events go to /api/v1/lineage unless the URL "
            "names a path). Needs openlineage-python: pip install 'lamin-core[lineage]'."
        ),
    )
    openlineage_file: str | None = Field(
        default=None,
        description=(
            "Append each catalog Run, as it finishes, as OpenLineage events (one JSON object a "
            "line) to this file. Needs openlineage-python: pip install 'lamin-core[lineage]'."
        ),
    )

    # a name pydantic cannot resolve: the instance module loads with the first catalog, not when
    # the resource class is defined (pydantic evaluates the annotations it can)
    _instance: "Instance | None" = PrivateAttr(default=None)
    _catalog_key: CatalogKey | None = PrivateAttr(default=None)  # under which it is shared
    # (step reference, attempt) -> its ln.Run, so that loads and saves of a step do not query
    # again; Any, as naming ln.Run here would load the models when pydantic evaluates it
    _step_runs: dict[tuple[str, int], Any] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Open the catalog when the run starts, and close the Runs of finished Dagster runs.

        Opening at once makes configuration errors surface at once. Closing takes Dagster's
        status as the truth for Runs left open by steps that died (see `close_finished_runs`).
        """
        instance = self.get_instance()
        if context.instance is not None:
            current = context.run.run_id if context.run is not None else None
            close_finished_runs(instance, context.instance, current_run_id=current)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Release the catalog when the run's resources are released: its connections stay open
        for the next run of this process with the same configuration (`lamin_dagster.catalogs`).
        """
        self._release(keep=True)

    def get_instance(self) -> "ln.Instance":
        """Return the open catalog, connecting on first use.

        With `create` (the default) a missing catalog is created first, as `ln.init` does:
        idempotent, and safe when several step processes race, because the schema is created
        under a lock held across processes and the storage and user rows are registered with
        create-if-absent semantics.

        Raises:
            InstanceError: `create` is False and there is no catalog at `storage`/`db`, or its
                database is unreachable.
        """
        if self._instance is None:
            key = catalog_key(self.storage, self.db, self.user, self.create)
            self._instance = acquire(key, self._open_catalog)
            self._catalog_key = key
            if self.openlineage_url or self.openlineage_file:
                on_runs_finished(self._instance, self._emit_openlineage)
        return self._instance

    def _open_catalog(self) -> "ln.Instance":
        if self.create:
            return ln.init(storage=self.storage, db=self.db, user=self.user, activate=False)
        try:
            return ln.connect(self.db, storage=self.storage, user=self.user, activate=False)
        except ln.InstanceError as error:
            if "No catalog" not in str(error) and "holds no catalog" not in str(error):
                raise
            raise ln.InstanceError(
                f"{error} Or let {type(self).__name__} create it on first use: "
                "create=True (the default)."
            ) from error

    def _emit_openlineage(self, instance: "ln.Instance", runs: "list[ln.Run]") -> None:
        """Send the OpenLineage events of Runs that just finished; a failure is only logged."""
        from lamin_core.lineage.openlineage import export_events

        try:
            export_events(
                runs=runs,
                to=self.openlineage_file,
                url=self.openlineage_url,
                append=True,
                instance=instance,
            )
        except (ln.LaminError, ImportError) as error:
            logger.warning(
                "Could not send the OpenLineage events of %d finished Run(s): %s", len(runs), error
            )

    @property
    def instance(self) -> "ln.Instance":
        """The open catalog (see `get_instance`)."""
        return self.get_instance()

    def close(self) -> None:
        """Close the catalog if it is open (unless another run of this process uses it too);
        the next use opens it again."""
        self._release(keep=False)

    def _release(self, *, keep: bool) -> None:
        if self._instance is not None and self._catalog_key is not None:
            on_runs_finished(self._instance, None)
            release(self._catalog_key, self._instance, keep=keep)
            self._instance = None
        self._step_runs.clear()

    @contextlib.contextmanager
    def activate(self) -> "Iterator[ln.Instance]":
        """Make the catalog active for ``ln.*`` calls inside a ``with`` block (this context only).

        Examples:
            >>> with lamin.activate():
            ...     ln.Artifact.filter(key__startswith="raw/").df()
        """
        instance = self.get_instance()
        with instance.activate():
            yield instance

    def step_run(self, step: StepInfo) -> "ln.Run":
        """Return the catalog Run of a Dagster step's attempt, creating it (and its run's Run).

        Args:
            step: The step, as read from a Dagster context by `lamin_dagster.context.step_info`.
        """
        instance = self.get_instance()
        spec = step_run_spec(step)
        memo_key = (spec.reference, step.attempt)
        cached = self._step_runs.get(memo_key)
        if cached is not None:
            # the Run this process made or found: attached again as it was, without a query
            # (`tracking(release=True)` detached it); nothing here writes its columns
            return instance.session.merge(cached, load=False)
        run = start_step_run(instance, job_run_spec(step.run_id, step.job_name), spec)
        self._step_runs[memo_key] = run
        return run

    @contextlib.contextmanager
    def tracking(
        self, step: StepInfo | None, *, release: bool = False
    ) -> "Iterator[ln.Run | None]":
        """Activate the catalog and make the step's Run current inside a ``with`` block.

        Artifacts saved inside get the step's Run as their run; artifacts loaded become its
        inputs. With `step` None (no Dagster run, as in unit tests), only the catalog is active.

        Args:
            step: The step, or None.
            release: Empty the session's identity map on leaving. The IO manager does, because
                every record a session holds slows its later flushes and bulk updates: over a
                run with many outputs, saves grew from ~5 ms to ~13 ms without it. Records
                obtained inside are detached afterwards.
        """
        from lamin_core.tracking import reset_current_run, set_current_run

        instance = self.get_instance()
        with instance.activate():
            run = self.step_run(step) if step is not None else None
            token = set_current_run(run, instance)
            try:
                yield run
            finally:
                reset_current_run(token)
                if release:
                    instance.session.expunge_all()


class LaminResource(CatalogResource):
    """Give ops and assets a lamin_core catalog, tracked as the step's Run.

    Examples:
        >>> @dg.asset
        ... def registered_files(context: dg.AssetExecutionContext, lamin: LaminResource):
        ...     with lamin.track(context):
        ...         ln.Artifact("raw/sample.fastq.gz", key="raw/sample.fastq.gz").save()
        >>> defs = dg.Definitions(
        ...     assets=[registered_files], resources={"lamin": LaminResource(storage="./catalog")}
        ... )
    """

    @contextlib.contextmanager
    def track(self, context: Any) -> "Iterator[ln.Run | None]":
        """Activate the catalog with the Run of the step behind `context` as the current run.

        Args:
            context: The op's or asset's execution context.
        """
        with self.tracking(step_info(context)) as run:
            yield run
