"""The bulk path of ln.save: many new genes written without the unit of work, index included."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.models.insert import MIN_BULK_RECORDS
from lamin_core.search import bulk as search_bulk

N_BULK = search_bulk.MIN_DEFERRED_INDEX_ROWS + 200  # past both thresholds: rows and index


def _public_genes(n: int, start: int = 0) -> list[str]:
    table = bt.Gene.public(organism="human").df().reset_index()
    ids = table["ensembl_gene_id"].dropna().drop_duplicates()
    return ids.iloc[start : start + n].tolist()


def _row(gene: bt.Gene) -> dict:
    session = ln.get_instance().session
    table = bt.Gene.__table__
    row = session.execute(sa.select(table).where(table.c.id == gene.id)).mappings().one()
    return {k: v for k, v in row.items() if k not in {"id", "uid", "created_at"}}


def test_bulk_save_writes_the_rows_the_per_record_path_writes(instance):
    ids = _public_genes(N_BULK + 3)
    bulk = bt.Gene.from_values(ids[:N_BULK], field=bt.Gene.ensembl_gene_id, organism="human")
    ln.save(bulk)
    one_by_one = bt.Gene.from_values(ids[N_BULK:], field="ensembl_gene_id", organism="human")
    assert len(one_by_one) < MIN_BULK_RECORDS  # these take the unit of work's path
    for gene in one_by_one:
        gene.save()
    assert bt.Gene.filter().count() == N_BULK + 3
    expected = bt.Gene.public(organism="human").df().reset_index().set_index("ensembl_gene_id")
    for gene in [*bulk[:3], bulk[-1]]:
        row = _row(gene)
        assert row["symbol"] == expected.loc[gene.ensembl_gene_id, "symbol"]
        assert row["biotype"] == expected.loc[gene.ensembl_gene_id, "biotype"]
        reference = _row(one_by_one[0])
        same = {"source_id", "organism_id", "created_by_id", "space_id", "run_id"}
        assert {k: row[k] for k in same} == {k: reference[k] for k in same}
        assert len(gene.uid) == 12 and gene.uid.isalnum()


def test_bulk_saved_genes_are_records(instance):
    genes = bt.Gene.from_values(_public_genes(N_BULK), field="ensembl_gene_id", organism="human")
    saved = ln.save(genes)
    gene = genes[7]
    assert saved[7] is gene and gene.id is not None
    assert gene.organism.name == "human"
    assert gene.source.entity == "bionty.Gene"
    gene.description = "edited after the bulk save"
    gene.save()
    assert bt.Gene.get(uid=gene.uid).description == "edited after the bulk save"
    assert bt.Gene.filter(organism__name="human").count() == N_BULK


def test_bulk_saved_genes_are_found_by_search(instance):
    genes = bt.Gene.from_values(_public_genes(N_BULK), field="ensembl_gene_id", organism="human")
    ln.save(genes)
    symbol = next(g.symbol for g in genes[N_BULK // 2 :] if g.symbol and len(g.symbol) >= 6)
    assert bt.Gene.search(symbol).first().symbol == symbol
    typo = symbol[:2] + symbol[3] + symbol[2] + symbol[4:]  # two letters swapped
    assert symbol in bt.Gene.search(typo).df()["symbol"].tolist()
    later = bt.Gene.from_values(_public_genes(5, start=N_BULK), field="ensembl_gene_id",
                                organism="human")  # fmt: skip
    ln.save(later)  # a small save afterwards: the triggers are back
    assert bt.Gene.search(later[0].symbol).first().symbol == later[0].symbol


def test_bulk_save_failing_half_way_leaves_the_catalog_unchanged(instance):
    genes = bt.Gene.from_values(_public_genes(N_BULK), field="ensembl_gene_id", organism="human")
    batches = []

    def fail_second_batch(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO gene "):
            batches.append(statement)
            if len(batches) == 2:
                raise RuntimeError("connection lost half way")

    sa.event.listen(instance.engine, "after_cursor_execute", fail_second_batch)
    try:
        with pytest.raises(RuntimeError, match="half way"):
            ln.save(genes)
    finally:
        sa.event.remove(instance.engine, "after_cursor_execute", fail_second_batch)
    assert bt.Gene.filter().count() == 0
    assert bt.Organism.filter().count() == 0
    assert genes[0].id is None and genes[0].symbol is not None
    saved = ln.save(genes)  # the same records save once the problem is gone
    assert bt.Gene.filter().count() == len({gene.id for gene in saved}) > N_BULK - 50
    assert bt.Gene.search(genes[3].symbol).first().symbol == genes[3].symbol


def test_bulk_save_does_not_duplicate_twins(instance):
    ids = _public_genes(N_BULK)
    half = bt.Gene.from_values(ids[: N_BULK // 2], field="ensembl_gene_id", organism="human")
    first = {gene.id for gene in ln.save(half)}
    saved = ln.save(bt.Gene.from_values(ids, field="ensembl_gene_id", organism="human"))
    assert first <= {gene.id for gene in saved}  # the saved half is reused, not written again
    assert bt.Gene.filter().count() == len({gene.id for gene in saved})
    assert bt.Gene.filter(ensembl_gene_id=ids[0]).count() == 1


def test_bulk_save_of_labels_reuses_a_twin_in_the_list(instance):
    labels = [ln.ULabel(name=f"label {i}") for i in range(MIN_BULK_RECORDS * 2)]
    labels.append(ln.ULabel(name="label 0", _skip_validation=True))  # a twin in the list
    saved = ln.save(labels)
    assert ln.ULabel.filter(name__startswith="label ").count() == MIN_BULK_RECORDS * 2
    assert saved[-1] is saved[0]
    assert ln.ULabel.search("label 17").first().name == "label 17"


def test_bulk_save_keeps_the_per_row_checks_of_a_registry(instance: ln.Instance):
    features = [ln.Feature(name=f"feature {i}", dtype="str") for i in range(150)]
    features.append(ln.Feature(name="no dtype"))
    with pytest.raises(ln.ValidationError, match="no dtype"):
        ln.save(features)  # a Feature's insert check runs for each of the 151 rows
    assert ln.Feature.filter().count() == 0
