"""Build the offline public sources shipped in ``lamin_core/bio/data``.

Why: the upstream snapshots (ontologies as zstd JSON with full ancestor closures, gene tables for
every species, all of NCBITaxon) weigh ~20 MB; the package ships a few MB so that
``lamin_core.bio.public`` works offline right after ``pip install``. This script strips each
ontology to what the accessors use, cuts NCBITaxon down to a curated Organism table, keeps human
and mouse genes, and writes ``sources.json`` (entity, organism, name, version, file, url, md5).
MONDO and EFO are shipped only while the total stays under the size budget; otherwise users add
them from a path with ``lamin_core.bio.public.add_source``.

Usage:
    python scripts/build_bio_data.py [--input /work/shared/data] [--output lamin_core/bio/data]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import zstandard

from lamin_core.bio.public import parents_from_ancestors

BUDGET_BYTES = 5_000_000
ZSTD_LEVEL = 19
# (upstream prefix, entity, organism); the first group always ships, the second if it fits.
CORE_ONTOLOGIES = [
    ("CL", "CellType", "all"),
    ("UBERON", "Tissue", "all"),
    ("HsapDv", "DevelopmentalStage", "human"),
    ("MmusDv", "DevelopmentalStage", "mouse"),
    ("PATO", "Phenotype", "all"),
    ("HANCESTRO", "Ethnicity", "human"),
]
OPTIONAL_ONTOLOGIES = [("MONDO", "Disease", "all"), ("EFO", "ExperimentalFactor", "all")]
SHIPPED_GENES = ["human", "mouse"]
ENSEMBL_RELEASE = "release-114"  # GENCODE 48 (human) and M37 (mouse) are Ensembl 114
# NCBITaxon id -> (bionty-style common name, gene table species, extra synonyms)
ORGANISMS: dict[int, tuple[str, str, list[str]]] = {
    9606: ("human", "homo_sapiens", []),
    10090: ("mouse", "mus_musculus", []),
    10116: ("rat", "rattus_norvegicus", []),
    7955: ("zebrafish", "danio_rerio", []),
    7227: ("fruit fly", "drosophila_melanogaster", ["fruitfly", "drosophila"]),
    6239: ("roundworm", "caenorhabditis_elegans", ["c. elegans", "nematode"]),
    9544: ("macaque", "macaca_mulatta", ["rhesus_macaque"]),
    9541: ("crab-eating macaque", "macaca_fascicularis", []),
    9483: ("marmoset", "callithrix_jacchus", []),
    9593: ("gorilla", "gorilla_gorilla", []),
    9598: ("chimpanzee", "pan_troglodytes", ["chimp", "troglodyte"]),
    9823: ("pig", "sus_scrofa", []),
    9986: ("rabbit", "oryctolagus_cuniculus", []),
    30608: ("mouse lemur", "microcebus_murinus", ["lemur"]),
    2697049: ("sars-cov-2", "sars_cov_2", ["sars_cov_2", "covid-19 virus"]),
}
SARS_COV_2 = {  # absent from the NCBITaxon snapshot (no viruses); taken from NCBI Taxonomy
    "label": "Severe acute respiratory syndrome coronavirus 2",
    "synonyms": ["SARS-CoV-2", "2019-nCoV"],
}


def read_zst_json(path: Path) -> Any:
    """Return the JSON value stored zstd-compressed in `path`."""
    return json.loads(zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read())


def write_zst_json(value: Any, path: Path) -> None:
    """Write `value` as compact JSON, zstd-compressed at a high level (read speed is unaffected)."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    path.write_bytes(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw))


def md5(path: Path) -> str:
    """Return the hex md5 of a file."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def strip_ontology(terms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Keep label, synonyms, description, direct parents; deprecated terms keep label/replacement.

    The full ancestor closure is dropped: it is recomputed from the parents on demand and
    accounts for most of the upstream size.
    """
    parents = parents_from_ancestors(terms)
    stripped: dict[str, dict[str, Any]] = {}
    for term, value in terms.items():
        if value.get("deprecated"):
            entry = {"label": value.get("label", ""), "deprecated": True}
            if value.get("replaced_by"):
                entry["replaced_by"] = value["replaced_by"]
        else:
            entry = {"label": value.get("label", ""), "parents": parents[term]}
            for key in ("synonyms", "description"):
                if value.get(key):
                    entry[key] = value[key]
        stripped[term] = entry
    return stripped


def source_url(info: dict[str, Any]) -> str:
    """Return the download url of an ontology version from latest_ontology_info.json."""
    return info.get("url") or info["source"].format(**info)


def build_ontology(
    prefix: str, entity: str, organism: str, info: dict[str, Any], src: Path, out: Path
) -> dict[str, Any]:
    """Strip one upstream ontology into `out` and return its manifest row."""
    version = info["version"]
    upstream = src / "ontologies" / f"{prefix}-ontology-{version}.json.zst"
    name = prefix.lower()
    file = out / f"{name}_{version}.json.zst"
    write_zst_json(strip_ontology(read_zst_json(upstream)), file)
    return {"entity": entity, "organism": organism, "name": name, "version": version,
            "file": file.name, "url": source_url(info), "md5": md5(file)}  # fmt: skip


def find_taxa(path: Path, ids: list[int]) -> dict[str, dict[str, Any]]:
    """Return the NCBITaxon entries of `ids` without parsing the 1.2 M-term file as a whole."""
    text = zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read().decode()
    decoder, found = json.JSONDecoder(), {}
    for taxon in ids:  # a term's own entry, not its mention in another term's ancestors
        match = re.search(rf'"NCBITaxon:{taxon}":\s*(?=\{{)', text)
        if match:
            found[f"NCBITaxon:{taxon}"] = decoder.raw_decode(text, match.end())[0]
    return found


def build_organisms(info: dict[str, Any], src: Path, out: Path) -> dict[str, Any]:
    """Write the curated Organism table (label = common name) and return its manifest row."""
    version = info["version"]
    taxa = find_taxa(src / "ontologies" / f"NCBITaxon-ontology-{version}.json.zst", list(ORGANISMS))
    taxa.setdefault("NCBITaxon:2697049", SARS_COV_2)
    table = {}
    for taxon, (name, species, extra) in ORGANISMS.items():
        entry = taxa[f"NCBITaxon:{taxon}"]
        names = [entry["label"], *entry.get("synonyms", []), species, *extra]
        synonyms = [s for s in names if s != name]
        table[f"NCBITaxon:{taxon}"] = {
            "label": name,
            "scientific_name": entry["label"],
            "synonyms": list(dict.fromkeys(synonyms)),
            "description": f"{entry['label']} (NCBI Taxonomy {taxon}).",
            "parents": [],
        }
    file = out / f"ncbitaxon_{version}.json.zst"
    write_zst_json(table, file)
    return {"entity": "Organism", "organism": "all", "name": "ncbitaxon", "version": version,
            "file": file.name, "url": source_url(info), "md5": md5(file)}  # fmt: skip


def gene_urls(gene_info: Path) -> dict[str, str]:
    """Return {species folder name: GTF url} from gene_info.yml (simple 'key: value' YAML)."""
    urls: dict[str, str] = {}
    entry: dict[str, str] = {}
    for line in [*gene_info.read_text().splitlines(), "end:"]:
        if re.match(r"^\S.*:$", line):  # a new top-level organism block
            if "description" in entry:
                urls[entry["description"]] = entry["gtf_url"].replace(
                    "{version}", entry.get("version", "")
                )
            entry = {}
        elif match := re.match(r"^\s+(\w+):\s*(.*)$", line):
            entry[match[1]] = match[2]
    return urls


def build_genes(organism: str, src: Path, out: Path) -> dict[str, Any]:
    """Write ensembl_gene_id, symbol, biotype of one species and return its manifest row."""
    species = next(s for n, s, _ in ORGANISMS.values() if n == organism)
    upstream = src / "genes" / f"genes_{species}.csv.gz"
    df = pd.read_csv(upstream, header=None, dtype=str, keep_default_na=False)
    df = df.iloc[:, [0, 1, 4]].set_axis(["ensembl_gene_id", "symbol", "biotype"], axis=1)
    file = out / f"genes_{organism}_{ENSEMBL_RELEASE}.csv.zst"
    df.to_csv(file, index=False, compression={"method": "zstd", "level": ZSTD_LEVEL})
    url = gene_urls(src / "genes" / "gene_info.yml").get(species)
    return {"entity": "Gene", "organism": organism, "name": "ensembl", "version": ENSEMBL_RELEASE,
            "file": file.name, "url": url, "md5": md5(file)}  # fmt: skip


def main() -> None:
    """Rebuild the package data folder from the upstream snapshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--output", type=Path, default=Path("lamin_core/bio/data"))
    args = parser.parse_args()
    src, out = args.input, args.output
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.zst"), out / "sources.json"]:
        old.unlink(missing_ok=True)
    infos = json.loads((src / "ontologies" / "latest_ontology_info.json").read_text())["ontologies"]
    rows = [build_ontology(p, e, o, infos[p], src, out) for p, e, o in CORE_ONTOLOGIES]
    rows.append(build_organisms(infos["NCBITaxon"], src, out))
    rows += [build_genes(organism, src, out) for organism in SHIPPED_GENES]
    for prefix, entity, organism in OPTIONAL_ONTOLOGIES:
        row = build_ontology(prefix, entity, organism, infos[prefix], src, out)
        total = sum((out / r["file"]).stat().st_size for r in [*rows, row])
        if total > BUDGET_BYTES:
            (out / row["file"]).unlink()
            print(f"skipped {prefix}: {total / 1e6:.2f} MB would exceed the budget")
            continue
        rows.append(row)
    (out / "sources.json").write_text(json.dumps(rows, indent=2) + "\n")
    for row in rows:
        print(f"{row['entity']:<20} {row['name']:<10} {row['version']:<12} "
              f"{(out / row['file']).stat().st_size / 1e3:8.0f} kB")  # fmt: skip
    print(f"total {sum((out / r['file']).stat().st_size for r in rows) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
