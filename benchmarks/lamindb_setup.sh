#!/usr/bin/env bash
# Create benchmarks/.venv-lamindb with LaminDB 2.12.1 for the side-by-side benchmark, if missing.
#
# Idempotent: creates the venv only when absent and installs only when lamindb 2.12.1 is not
# already there. It installs and does nothing else (no instance is created here).
#
# `lamindb==2.12.1` is a meta package: it pulls lamindb-core[full], which brings bionty 2.5.2,
# lamindb_setup 1.27.0 and lamin_cli 1.21.0, so bionty needs no separate install. `zstandard`
# lets benchmarks/data.py read the .json.zst ontology snapshots without the `zstd` program.
#
# Offline instance recipe (what lamindb_side.py does in Python), verified with no network:
#
#   export LAMIN_SETTINGS_DIR=/path/inst/settings   # read at import; keeps ~/.lamin untouched
#   export LAMIN_CACHE_DIR=/path/inst/cache
#   cd /path/inst                                   # init writes .lamin/current_instance here
#   benchmarks/.venv-lamindb/bin/lamin init --storage /path/inst/storage --modules bionty
#
# A local storage folder + SQLite never contacts LaminHub during init, provided no settings
# file for that instance name exists yet (a fresh LAMIN_SETTINGS_DIR guarantees it). After
# connecting, set `lamindb_setup.settings.instance._is_on_hub = False` before registering files
# from outside the storage root, and delete `bionty.Source` rows to stop public-ontology
# downloads during validation; see lamindb_side.py.
set -euo pipefail

LAMINDB_VERSION="2.12.1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-lamindb"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi

if ! "$venv/bin/python" - "$LAMINDB_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version

sys.exit(version("lamindb") != sys.argv[1] or not version("zstandard"))
PY
then
    "$venv/bin/python" -m pip install --quiet "lamindb==$LAMINDB_VERSION" zstandard
fi
