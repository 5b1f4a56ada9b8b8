"""Write the catalog kept in this folder: what release 0.1.0 (migration 0009) stores.

Run once, with release 0.1.0 installed, from the repository root:

    python tests/data/release_0.1.0/make_catalog.py

tests/core/test_release_upgrade.py copies the catalog, opens it with the code of the day (which
migrates it) and checks that every row of every table is still there with its values.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import pandas as pd

here = Path(__file__).parent
root = here / "catalog"
shutil.rmtree(root, ignore_errors=True)

import lamin_core as ln  # noqa: E402
import lamin_core.bio as bt  # noqa: E402
from lamin_core.curators.seed_guide import seed_guide_setup  # noqa: E402

ln.init(storage=root)
ln.track(transform=ln.Transform(key="make_catalog.py", type="script"))
dataset1, dataset2 = seed_guide_setup(with_files=True)

project = ln.ULabel(name="Project A", is_type=False).save()
experiment = ln.ULabel(name="Experiment", is_type=True).save()
child = ln.ULabel(name="Experiment 1", type=experiment).save()
child.parents.add(project)
dataset1.ulabels.add(child)

table = pd.DataFrame({"sample": ["s1", "s2", "s3"], "reads": [10, 20, 30]})
first = ln.Artifact.from_df(table, key="tables/reads.parquet", description="reads").save()
second = ln.Artifact.from_df(
    table.assign(reads=[11, 21, 31]), key="tables/reads.parquet", revises=first
).save()
ln.Feature(name="experiment", dtype="cat[ULabel]").save()
second.features.add_values({"temperature": 21.5, "experiment": "Experiment 1"})
gone = ln.Artifact.from_df(table.head(1), key="tables/deleted.parquet").save()
gone.delete()

collection = ln.Collection([dataset1, dataset2], key="guide datasets").save()
bt.CellType.from_source(ontology_id="CL:0000084").save()
ln.finish()
ln.get_instance().engine.dispose()

# one file, no write-ahead log or lock beside it, no empty folders
database = root / ".lamindb" / "lamin.db"
with sqlite3.connect(database) as connection:
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("PRAGMA journal_mode=DELETE")
connection.close()
with sqlite3.connect(database, isolation_level=None) as connection:
    connection.execute("VACUUM")
connection.close()
for extra in (root / ".lamindb").iterdir():
    if extra.name.startswith("lamin.db") and extra != database:
        extra.unlink()
    elif extra.is_dir():
        shutil.rmtree(extra)
print(f"wrote {root} at release {ln.__version__}", file=sys.stderr)
