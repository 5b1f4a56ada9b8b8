"""Curation benchmark: `validate()` of a 1,000,000 x 60,000 AnnData after the registries are loaded.

Target: <= 1 s for an AnnData with 60,000 human gene symbols in ``var`` and 1,000,000
observations with three categorical ``obs`` columns of 1,000 distinct values each, validated
against ``bt.Gene.symbol``, ``bt.CellType.name`` and ``ln.ULabel.name`` (twice). The registries
are filled before timing (60,000 genes, 1,000 cell types, 2,000 labels); one warm-up run is
excluded; the median of the timed repeats is reported, also for the same obs stored as plain
strings (object dtype) instead of pandas Categoricals.

Standalone: ``.venv/bin/python benchmarks/curation_bench.py [--repeat 5] [--db URL]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import sparse


def build_adata(symbols: list[str], columns: dict[str, list[str]], n_obs: int) -> Any:
    """Return an AnnData with an empty sparse X, `symbols` as var and categorical obs columns."""
    import anndata as ad

    rng = np.random.default_rng(0)
    obs = pd.DataFrame(
        {
            name: pd.Categorical.from_codes(rng.integers(0, len(values), n_obs), values)
            for name, values in columns.items()
        },
        index=pd.RangeIndex(n_obs).astype(str),
    )
    x = sparse.csr_matrix((n_obs, len(symbols)), dtype=np.float32)
    return ad.AnnData(x, obs=obs, var=pd.DataFrame(index=symbols))


def fill_registries(symbols: list[str], columns: dict[str, list[str]]) -> dict[str, float]:
    """Create the features, labels, cell types and genes the dataset validates against."""
    import lamin_core as ln
    import lamin_core.bio as bt
    from lamin_core.bio.ancestors import save_records
    from lamin_core.bio.registry import organism_record, source_record

    timings = {}
    start = time.perf_counter()
    for name, dtype in [
        ("cell_type", "cat[bionty.CellType]"),
        ("cell_medium", "cat[ULabel]"),
        ("donor", "cat[ULabel]"),
    ]:
        ln.Feature(name=name, dtype=dtype).save()
    ln.ULabel.from_values(columns["cell_medium"] + columns["donor"], create=True).save()
    bt.settings.auto_save_parents = False  # the ancestors are not what is measured
    bt.CellType.from_values(columns["cell_type"]).save()
    timings["features, labels, cell types"] = time.perf_counter() - start
    start = time.perf_counter()
    session = ln.get_instance().session
    public = bt.Gene.public(organism="human")
    table = public.df().drop_duplicates("symbol").set_index("symbol").loc[symbols]
    organism = organism_record(session, "human")
    source = source_record(session, public.source)
    save_records([organism, source])
    rows = [
        {
            "uid": bt.Gene._new_uid(),
            "symbol": symbol,
            "ensembl_gene_id": ensembl_id,
            "biotype": biotype,
            "organism_id": organism.id,
            "source_id": source.id,
            "created_by_id": ln.get_instance().user_id,
        }
        for symbol, ensembl_id, biotype in zip(symbols, table.ensembl_gene_id, table.biotype)
    ]
    session.execute(sa.insert(bt.Gene), rows)
    session.commit()
    timings["60,000 genes (bulk insert)"] = time.perf_counter() - start
    return timings


def time_validate(adata: Any, repeat: int) -> tuple[list[float], list[float]]:
    """Return (validate() seconds, from_anndata() + validate() seconds) per timed repeat."""
    import lamin_core as ln
    import lamin_core.bio as bt

    categoricals = {
        "cell_type": bt.CellType.name,
        "cell_medium": ln.ULabel.name,
        "donor": ln.ULabel.name,
    }

    def curator() -> Any:
        return ln.Curator.from_anndata(
            adata, var_index=bt.Gene.symbol, categoricals=categoricals, organism="human"
        )

    warm = curator()
    assert warm.validate(), warm.non_validated  # warm-up, excluded
    validate_only, end_to_end = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        made = curator()
        built = time.perf_counter()
        assert made.validate()
        done = time.perf_counter()
        validate_only.append(done - built)
        end_to_end.append(done - start)
    return validate_only, end_to_end


def summary(label: str, times: list[float]) -> str:
    """Return one result line: median, min and max over the timed repeats."""
    return (
        f"{label:<48} median {statistics.median(times):7.3f} s   "
        f"min {min(times):7.3f} s   max {max(times):7.3f} s   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-obs", type=int, default=1_000_000)
    parser.add_argument("--n-genes", type=int, default=60_000)
    parser.add_argument("--n-categories", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in the workdir)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="curation-bench-"))
    os.environ["LAMIN_CORE_HOME"] = str(workdir / "home")
    logging.getLogger("lamin_core").setLevel(logging.ERROR)  # keep log I/O out of the timings

    import lamin_core as ln
    import lamin_core.bio as bt

    ln.init(storage=workdir / "catalog", db=args.db, user="bench")
    symbols = (
        bt.Gene.public(organism="human").df().symbol.drop_duplicates().iloc[: args.n_genes].tolist()
    )
    cell_types = bt.CellType.public().df().name.dropna().drop_duplicates()
    columns = {
        "cell_type": cell_types.iloc[: args.n_categories].tolist(),
        "cell_medium": [f"medium {i}" for i in range(args.n_categories)],
        "donor": [f"donor {i}" for i in range(args.n_categories)],
    }
    print(f"catalog: {ln.get_instance().db_url}", file=sys.stderr)
    for step, seconds in fill_registries(symbols, columns).items():
        print(f"setup  {step:<40} {seconds:7.2f} s")
    start = time.perf_counter()
    adata = build_adata(symbols, columns, args.n_obs)
    print(f"setup  {'build AnnData':<40} {time.perf_counter() - start:7.2f} s")
    print(
        f"\nvalidate(): {adata.n_obs:,} obs x {adata.n_vars:,} genes, 3 categorical obs columns "
        f"of {args.n_categories:,} values; {args.repeat} timed repeats after 1 warm-up"
    )
    validate_only, end_to_end = time_validate(adata, args.repeat)
    print(summary("validate(), obs as pandas Categorical", validate_only))
    print(summary("from_anndata() + validate(), Categorical", end_to_end))
    for name in columns:
        adata.obs[name] = adata.obs[name].astype(str).astype(object)
    validate_only, end_to_end = time_validate(adata, args.repeat)
    print(summary("validate(), obs as plain strings (object)", validate_only))
    print(summary("from_anndata() + validate(), plain strings", end_to_end))


if __name__ == "__main__":
    main()
