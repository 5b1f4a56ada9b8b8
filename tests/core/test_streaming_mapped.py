"""collection.mapped(): AnnData rows as a map-style dataset, read lazily, for training loops.

Rows are checked against the in-memory AnnData objects the artifacts were made from, over
generated collections (dense and CSR files, overlapping variables, missing labels) and every join.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import lamin_core as ln
from tests.counting import counting_filesystem
from tests.snapshot import catalog_snapshot

GENES = [f"gene{j}" for j in range(8)]
CELL_TYPES = ["B", "NK", "T", "monocyte"]


def random_anndata(rng: np.random.Generator, *, genes: list[str] | None = None) -> ad.AnnData:
    """Return a small AnnData: random genes (shuffled), dense or CSR, labels with gaps."""
    if genes is None:
        genes = list(rng.choice(GENES, size=int(rng.integers(3, len(GENES) + 1)), replace=False))
    n_obs = int(rng.integers(1, 12))
    values = rng.poisson(1.0, size=(n_obs, len(genes))).astype(np.float32)
    labels = rng.choice([*CELL_TYPES, None], size=n_obs).tolist()
    return ad.AnnData(
        X=sp.csr_matrix(values) if rng.random() < 0.5 else values,
        obs=pd.DataFrame(
            {"cell_type": pd.Categorical(labels), "n_genes": (values > 0).sum(axis=1)},
            index=[f"c{rng.integers(1e9)}_{i}" for i in range(n_obs)],
        ),
        var=pd.DataFrame(index=genes),
    )


def dense(adata: ad.AnnData) -> np.ndarray:
    return np.asarray(adata.X.toarray() if sp.issparse(adata.X) else adata.X)


def save_collection(adatas: list[ad.AnnData], key: str) -> ln.Collection:
    artifacts = [
        ln.Artifact.from_anndata(adata, key=f"{key}/{i}.h5ad").save()
        for i, adata in enumerate(adatas)
    ]
    return ln.Collection(artifacts, key=key).save()


def expected_rows(adatas: list[ad.AnnData], var_joint: list[str]) -> Iterator[dict[str, Any]]:
    """Yield every row as the in-memory objects have it, by gene name (0 for absent genes)."""
    for adata in adatas:
        frame = pd.DataFrame(dense(adata), columns=adata.var_names)
        for row in range(adata.n_obs):
            yield {
                "X": [frame.iloc[row].get(gene, 0.0) for gene in var_joint],
                "cell_type": adata.obs["cell_type"].iloc[row],
                "n_genes": int(adata.obs["n_genes"].iloc[row]),
            }


def assert_rows_match(mapped: Any, adatas: list[ad.AnnData]) -> None:
    decode = {code: label for label, code in mapped.encoders["cell_type"].items()}
    expected = list(expected_rows(adatas, mapped.var_joint))
    assert len(mapped) == len(expected) == sum(a.n_obs for a in adatas)
    for index, want in enumerate(expected):
        item = mapped[index]
        assert item["X"].dtype == np.float32
        np.testing.assert_array_equal(item["X"], want["X"])
        label = want["cell_type"]
        assert decode.get(item["cell_type"]) == (None if pd.isna(label) else label)
        assert item["n_genes"] == want["n_genes"]  # not encoded: the stored value


def test_mapped_rows_match_the_anndata_objects_for_every_join(sqlite_instance: ln.Instance):
    rng = np.random.default_rng(7)
    joined: list[tuple[str, int]] = []
    for case in range(5):
        adatas = [random_anndata(rng) for _ in range(int(rng.integers(1, 4)))]
        collection = save_collection(adatas, key=f"case{case}")
        names = [set(a.var_names) for a in adatas]
        for join, genes in (("inner", set.intersection(*names)), ("outer", set.union(*names))):
            if not genes:
                continue
            with collection.mapped(
                obs_keys=["cell_type", "n_genes"], join=join, encode_labels=["cell_type"]
            ) as mapped:
                assert set(mapped.var_joint) == genes
                assert mapped.shape == (sum(a.n_obs for a in adatas), len(genes))
                assert mapped.original_shapes == [a.shape for a in adatas]
                assert_rows_match(mapped, adatas)
                present = {v for a in adatas for v in a.obs["cell_type"].dropna()}
                assert list(mapped.encoders["cell_type"]) == sorted(present)
            joined.append((join, len(adatas)))
    # the generated cases joined several files both ways
    assert {join for join, n_files in joined if n_files > 1} == {"inner", "outer"}


def same_genes(seed: int, n_files: int = 3) -> list[ad.AnnData]:
    rng = np.random.default_rng(seed)
    return [random_anndata(rng, genes=GENES) for _ in range(n_files)]


def test_mapped_feeds_a_plain_batch_loop(sqlite_instance: ln.Instance):
    adatas = same_genes(1)
    with save_collection(adatas, "batches").mapped(obs_keys="cell_type", join=None) as mapped:
        assert mapped.var_joint == GENES
        order = np.random.default_rng(0).permutation(len(mapped))
        seen, batches = [], 0
        for start in range(0, len(order), 4):
            rows = [mapped[int(i)] for i in order[start : start + 4]]
            batch = np.stack([row["X"] for row in rows])
            assert batch.shape == (len(rows), len(GENES))
            seen.extend(batch.tolist())
            batches += 1
        assert batches == -(-len(mapped) // 4)
        wanted = np.concatenate([dense(a) for a in adatas])[order]
        np.testing.assert_array_equal(np.array(seen), wanted)
        with pytest.raises(IndexError):
            mapped[len(mapped)]
        np.testing.assert_array_equal(mapped[-1]["X"], dense(adatas[-1])[-1])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_mapped_feeds_a_torch_dataloader(sqlite_instance: ln.Instance, num_workers: int):
    torch = pytest.importorskip("torch")
    adatas = same_genes(2)
    with save_collection(adatas, "torch").mapped(obs_keys=["cell_type"]) as mapped:
        loader = torch.utils.data.DataLoader(mapped, batch_size=5, num_workers=num_workers)
        batches = list(loader)
        assert sum(len(b["X"]) for b in batches) == len(mapped)
        stacked = torch.cat([b["X"] for b in batches]).numpy()
        np.testing.assert_array_equal(stacked, np.concatenate([dense(a) for a in adatas]))
        assert batches[0]["cell_type"].dtype == torch.int64


def read_rows(mapped: Any, queue: Any) -> None:
    queue.put([mapped[i]["X"].tolist() for i in range(len(mapped))])


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_mapped_is_read_by_other_processes(sqlite_instance: ln.Instance, start_method: str):
    if start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {start_method} start method on this platform")
    adatas = same_genes(3, n_files=2)
    with save_collection(adatas, "workers").mapped() as mapped:
        mapped[0]  # the parent has its files open: a forked child must open its own
        context = multiprocessing.get_context(start_method)
        queue = context.Queue()
        worker = context.Process(target=read_rows, args=(mapped, queue))
        worker.start()
        rows = queue.get(timeout=120)
        worker.join(timeout=60)
        assert worker.exitcode == 0
        np.testing.assert_array_equal(rows, np.concatenate([dense(a) for a in adatas]))
        np.testing.assert_array_equal(mapped[1]["X"], dense(adatas[0])[1])  # parent unharmed


def test_mapped_survives_pickling(sqlite_instance: ln.Instance):
    adatas = same_genes(4, n_files=2)
    with save_collection(adatas, "pickled").mapped(obs_keys=["cell_type"]) as mapped:
        mapped[0]
        copy = pickle.loads(pickle.dumps(mapped))
        assert copy.encoders == mapped.encoders
        for index in (0, len(mapped) - 1):
            np.testing.assert_array_equal(copy[index]["X"], mapped[index]["X"])
        copy.close()


def test_mapped_closed_cannot_be_read(sqlite_instance: ln.Instance):
    with save_collection(same_genes(5, n_files=1), "closed").mapped() as mapped:
        assert mapped[0]["X"].shape == (len(GENES),)
        assert not mapped.closed
    assert mapped.closed
    with pytest.raises(ln.StorageError, match=r"closed.*collection.mapped"):
        mapped[0]


def test_mapped_reads_layers_obsm_and_converts_dtype(sqlite_instance: ln.Instance):
    adata = same_genes(6, n_files=1)[0]
    adata.layers["counts"] = dense(adata).astype(np.int32) * 10
    adata.obsm["X_pca"] = np.arange(adata.n_obs * 2, dtype=np.float64).reshape(-1, 2)
    collection = save_collection([adata], "layers")
    with collection.mapped(layers_keys=["X", "counts"], obsm_keys="X_pca") as mapped:
        item = mapped[1]
        assert item["counts"].dtype == np.int32  # the stored dtype by default
        np.testing.assert_array_equal(item["counts"], dense(adata)[1] * 10)
        np.testing.assert_array_equal(item["X"], dense(adata)[1])
        np.testing.assert_array_equal(item["obsm_X_pca"], [2.0, 3.0])
        assert item["_store_idx"] == 0
    with collection.mapped(layers_keys="counts", dtype="float64") as mapped:
        assert mapped[0]["counts"].dtype == np.float64
    with pytest.raises(ln.ValidationError, match=r"no layers key 'count'.*counts.*Did you mean"):
        collection.mapped(layers_keys="count")


def test_mapped_obs_filter_and_unknown_label(sqlite_instance: ln.Instance):
    adatas = same_genes(14, n_files=2)
    collection = save_collection(adatas, "filtered")
    wanted = ["B", "T"]
    with collection.mapped(
        obs_keys="cell_type", obs_filter={"cell_type": wanted}, unknown_label="T"
    ) as mapped:
        kept = [
            (i, row)
            for i, adata in enumerate(adatas)
            for row in range(adata.n_obs)
            if adata.obs["cell_type"].iloc[row] in wanted
        ]
        assert len(mapped) == len(kept) > 0
        assert mapped.encoders["cell_type"] == {"B": 0, "T": -1}
        for position, (file_index, row) in enumerate(kept):
            item = mapped[position]
            assert item["_store_idx"] == file_index
            np.testing.assert_array_equal(item["X"], dense(adatas[file_index])[row])
            label = adatas[file_index].obs["cell_type"].iloc[row]
            assert item["cell_type"] == (0 if label == "B" else -1)
        assert [n for n, _ in mapped.original_shapes] == [
            int(a.obs["cell_type"].isin(wanted).sum()) for a in adatas
        ]


def test_mapped_label_weights_are_inverse_frequencies(sqlite_instance: ln.Instance):
    adata = same_genes(8, n_files=1)[0]
    adata.obs["cell_type"] = pd.Categorical(["T"] * (adata.n_obs - 1) + ["B"])
    with save_collection([adata], "weights").mapped(obs_keys="cell_type") as mapped:
        weights = mapped.get_label_weights("cell_type")
        np.testing.assert_allclose(weights, [1 / (adata.n_obs - 1)] * (adata.n_obs - 1) + [1])
        scaled = mapped.get_label_weights("cell_type", scaler=10)
        np.testing.assert_allclose(scaled[-1], 10 / 11)
        with pytest.raises(ln.ValidationError, match=r"cell_typ.*Did you mean 'cell_type'"):
            mapped.get_label_weights("cell_typ")


def test_mapped_on_s3_reads_rows_not_files(
    tmp_path: Path, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
):
    instance = ln.init(
        storage=f"s3://{s3_bucket}/catalog", db=f"sqlite:///{tmp_path / 'c.db'}", user="testuser1"
    )
    rng = np.random.default_rng(9)
    adata = ad.AnnData(
        X=rng.random((2000, 1000), dtype=np.float32),  # 8 MB, dense
        obs=pd.DataFrame(
            {"cell_type": rng.choice(CELL_TYPES, 2000)}, index=[f"c{i}" for i in range(2000)]
        ),
    )
    collection = save_collection([adata], "remote")
    size = collection.artifacts[0].size
    counting = counting_filesystem(instance.fs)
    monkeypatch.setattr(instance, "fs", counting)
    with collection.mapped(obs_keys="cell_type", stream=True) as mapped:
        for index in (0, 1234, 1999):
            np.testing.assert_array_equal(mapped[index]["X"], adata.X[index])
    assert 0 < counting.bytes_read < size / 20
    with collection.mapped(stream=False) as mapped:  # cached locally first
        np.testing.assert_array_equal(mapped[5]["X"], adata.X[5])
    instance.close()


# --- what mapped() refuses -----------------------------------------------------------------------


def test_mapped_refuses_members_that_are_not_anndata(sqlite_instance: ln.Instance):
    table = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    cells = ln.Artifact.from_anndata(same_genes(9, n_files=1)[0], key="c.h5ad").save()
    collection = ln.Collection([cells, table], key="mixed").save()
    before = catalog_snapshot(sqlite_instance)
    with pytest.raises(ln.ValidationError, match=rf"{table.uid}.*\.parquet.*collection\.open"):
        collection.mapped()
    assert catalog_snapshot(sqlite_instance) == before


def test_mapped_unknown_obs_key_lists_the_columns(sqlite_instance: ln.Instance):
    collection = save_collection(same_genes(10, n_files=1), "keys")
    with pytest.raises(ln.ValidationError, match=r"no obs column 'celltype'.*n_genes.*Did you"):
        collection.mapped(obs_keys=["celltype"])
    with pytest.raises(ln.ValidationError, match=r"encode_labels names 'n_genes'.*obs_keys"):
        collection.mapped(obs_keys=["cell_type"], encode_labels=["n_genes"])


def test_mapped_join_errors_say_which_join_to_use(sqlite_instance: ln.Instance):
    left = random_anndata(np.random.default_rng(11), genes=GENES[:3])
    right = random_anndata(np.random.default_rng(12), genes=GENES[3:5])
    collection = save_collection([left, right], "disjoint")
    with pytest.raises(ln.ValidationError, match=r"share no variable.*join='outer'"):
        collection.mapped()
    with pytest.raises(ln.ValidationError, match=r"different numbers.*\[2, 3\].*join='inner'"):
        collection.mapped(join=None)
    with pytest.raises(ln.ValidationError, match=r"Unknown join 'left'"):
        collection.mapped(join="left")  # type: ignore[arg-type]
    with collection.mapped(join="outer") as mapped:
        assert mapped.var_joint == GENES[:5]


def test_mapped_refuses_csc_matrices(sqlite_instance: ln.Instance):
    adata = same_genes(13, n_files=1)[0]
    adata.X = sp.csc_matrix(dense(adata))
    with pytest.raises(ln.ValidationError, match=r"csc_matrix.*tocsr"):
        save_collection([adata], "csc").mapped()
