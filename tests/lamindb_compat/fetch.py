"""Fetch LaminDB's own API-level tests and point their imports at lamin_core.

LaminDB's tests are not part of this repository: this script downloads the source distribution
of the LaminDB version the benchmarks compare against (``benchmarks/lamindb_setup.sh``) with
pip, keeps it in ``.cache/lamindb-tests/<version>/``, and writes the selected test files to
``tests/lamindb_compat/upstream/`` (git-ignored) with ONLY their imports rewritten, by the one
table below (`IMPORTS`). The test code itself is left as LaminDB wrote it.

Since 2.x, ``lamindb`` on the package index is a meta package without a source distribution;
the code and its tests ship in ``lamindb-core``.

A ``from lamindb... import name`` with no lamin_core equivalent becomes a stand-in
(``upstream/_absent.py``) that raises `MissingEquivalent` when the test uses it, so one missing
name fails the tests that use it instead of the whole file's collection.

Usage:
    python tests/lamindb_compat/fetch.py            # download once, then extract and rewrite
    python tests/lamindb_compat/fetch.py --check    # exit 1 unless the extracted files are current
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
UPSTREAM = HERE / "upstream"  # the rewritten tests; git-ignored
MANIFEST = UPSTREAM / "manifest.json"
CACHE = REPO / ".cache" / "lamindb-tests"
SETUP_SCRIPT = REPO / "benchmarks" / "lamindb_setup.sh"
DISTRIBUTION = "lamindb-core"

# The files taken from the sdist (paths inside it, under tests/): search, from_values,
# parents/children, relation managers, labels and the curation helpers of the public API.
# Tests of LaminDB's private helpers (test_inspect.py, test_standardize.py on
# lamindb.models.can_curate internals, test_lookup.py on the Lookup class) are left out.
SELECTED = (
    "pydata/test_search.py",
    "pydata/test_from_values.py",
    "pydata/test_has_parents.py",
    "pydata/test_manager.py",
    "pydata/test_label_manager.py",
    "pydata/test_can_curate.py",
    "pydata/test_curator_basics.py",
    "curators/test_dataframe_curation.py",
    "pydata/_dataset_fixtures.py",  # fixtures the test files import
)

# LaminDB 2.x's guides (paths inside the sdist, under docs/) run by test_guide.py: the tutorial
# (tracking, annotation, queries, search), curation and tracking. Their python code blocks get the
# same import rewrites as the tests; the prose stays as it is.
GUIDES = ("tutorial.md", "curate.md", "track.md")
# The scripts the guides include (``.. literalinclude:: scripts/<name>``) that the sdist ships,
# in its examples package; the others (workflows run with ``python scripts/...``) it does not.
GUIDE_SCRIPTS = {
    "define_a_feature_type.py": "lamindb/examples/schemas/define_a_feature_type.py",
    "define_mini_immuno_features_labels.py": (
        "lamindb/examples/datasets/define_mini_immuno_features_labels.py"
    ),
    "define_mini_immuno_schema_flexible.py": (
        "lamindb/examples/datasets/define_mini_immuno_schema_flexible.py"
    ),
    "define_schema_anndata_ensembl_gene_ids_and_obs_feature_type.py": (
        "lamindb/examples/schemas/define_schema_anndata_ensembl_gene_ids_and_obs_feature_type.py"
    ),
}

# The one table of import rewrites. Keys are what LaminDB's tests import: a module
# (``import lamindb as ln``) or a module-qualified name (``from lamindb.errors import X``).
# A value is the lamin_core module or name that plays the same part; None means lamin_core has no
# equivalent and the name becomes a stand-in that raises when used.
IMPORTS: dict[str, str | None] = {
    # modules
    "lamindb": "lamin_core",
    "bionty": "lamin_core.bio",
    "lamindb_setup": None,  # LaminDB's instance manager (hub accounts, instance slugs)
    "laminci.db": None,  # starts a PostgreSQL docker container for LaminDB's CI
    # names
    "lamindb.errors.ValidationError": "lamin_core.errors.ValidationError",
    "lamindb.errors.FieldValidationError": "lamin_core.errors.ValidationError",
    "lamindb.errors.DoesNotExist": "lamin_core.errors.DoesNotExist",
    "lamindb.errors.MultipleResultsFound": "lamin_core.errors.MultipleResultsFound",
    "lamindb.errors.IntegrityError": "lamin_core.errors.IntegrityError",
    "lamindb.errors.InvalidArgument": None,
    "lamindb.models.LabelManager": "lamin_core.annotations.labels.LabelManager",
    "lamindb.models.QuerySet": "lamin_core.QuerySet",
    "lamindb.models.artifact.add_labels": None,  # LabelManager.add with from_curator=
    "lamindb.models.has_parents.get_record_label": None,  # the label of a lineage node
    "lamindb.curators.core.DictCurator": None,
}

# Top-level packages whose imports are rewritten; imports of anything else stay as they are.
REWRITTEN_PACKAGES = ("lamindb", "bionty", "lamindb_setup", "laminci", "django")

HEADER = (
    "# Fetched from the {dist} {version} source distribution by tests/lamindb_compat/fetch.py:\n"
    "# LaminDB's code (Apache-2.0), not this repository's. Only the imports are rewritten.\n"
)

ABSENT_MODULE = '''"""Stand-ins for LaminDB names that lamin_core lacks (written by fetch.py)."""

from typing import Any


class MissingEquivalent(NotImplementedError):
    """A test used a LaminDB name that tests/lamindb_compat/fetch.py maps to nothing."""


class Absent:
    """Raise MissingEquivalent on any use: calling, attribute access, iteration."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise MissingEquivalent(
            f"{self._name} has no lamin_core equivalent (IMPORTS in tests/lamindb_compat/fetch.py)"
        )

    __call__ = _fail
    __iter__ = _fail

    def __getattr__(self, attribute: str) -> Any:
        return self._fail()

    def __repr__(self) -> str:
        return f"<absent {self._name}>"


def absent(name: str) -> Any:
    return Absent(name)
'''


@dataclass(frozen=True)
class Rewrite:
    """One rewritten import statement: where it was, what replaced it, the names left absent."""

    line: int
    before: str
    after: str
    absent: tuple[str, ...]


def lamindb_version(script: Path = SETUP_SCRIPT) -> str:
    """Return the LaminDB version the benchmarks install (``LAMINDB_VERSION=`` in the script)."""
    match = re.search(r'^LAMINDB_VERSION="([^"]+)"', script.read_text(), flags=re.MULTILINE)
    if match is None:
        raise SystemExit(f'no LAMINDB_VERSION="..." line in {script}: cannot pick the version')
    return match.group(1)


def _is_rewritten(module: str) -> bool:
    return module.split(".")[0] in REWRITTEN_PACKAGES


def _absent_line(binding: str, qualified: str) -> str:
    return f"{binding} = __import__('_absent').absent({qualified!r})"


def _rewrite_import(node: ast.Import) -> tuple[list[str], list[str]]:
    lines, absent = [], []
    for alias in node.names:
        binding = alias.asname or alias.name.split(".")[0]
        if not _is_rewritten(alias.name):
            lines.append(ast.unparse(ast.Import(names=[alias])))
            continue
        target = IMPORTS.get(alias.name)
        if target is None:
            absent.append(alias.name)
            lines.append(_absent_line(binding, alias.name))
        elif alias.asname:
            lines.append(f"import {target} as {alias.asname}")
        elif "." in alias.name:  # `import lamindb.x` binds `lamindb`: keep that name
            lines.append(f"import {target}")
            lines.append(f"{binding} = __import__({target.split('.')[0]!r})")
        else:
            lines.append(f"import {target} as {binding}")
    return lines, absent


def _rewrite_from(node: ast.ImportFrom) -> tuple[list[str], list[str]]:
    module = node.module or ""
    lines, absent = [], []
    for alias in node.names:
        qualified = f"{module}.{alias.name}"
        binding = alias.asname or alias.name
        if qualified in IMPORTS:
            target = IMPORTS[qualified]
        elif module in IMPORTS and IMPORTS[module] is not None:
            target = f"{IMPORTS[module]}.{alias.name}"  # a whole module maps (bionty -> bio)
        else:
            target = None
        if target is None:
            absent.append(qualified)
            lines.append(_absent_line(binding, qualified))
            continue
        target_module, _, target_name = target.rpartition(".")
        suffix = "" if target_name == binding else f" as {binding}"
        lines.append(f"from {target_module} import {target_name}{suffix}")
    return lines, absent


def rewrite_imports(source: str) -> tuple[str, list[Rewrite]]:
    """Rewrite the imports of LaminDB packages in `source` by `IMPORTS`; leave all else as is.

    Args:
        source: A Python file's text.

    Returns:
        The new text and one `Rewrite` per changed statement.

    Examples:
        >>> rewrite_imports("import lamindb as ln\\n")[0]
        'import lamin_core as ln\\n'
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[ast.stmt, list[str], list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_is_rewritten(a.name) for a in node.names):
            edits.append((node, *_rewrite_import(node)))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and _is_rewritten(node.module or "")
        ):
            edits.append((node, *_rewrite_from(node)))
    rewrites = []
    # from the bottom up, so that earlier line numbers stay valid
    for node, new_lines, absent in sorted(edits, key=lambda edit: -edit[0].lineno):
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        indent = lines[first][: node.col_offset]
        before = "".join(lines[first : last + 1])
        trailing = lines[last][node.end_col_offset :] if node.end_col_offset is not None else "\n"
        after = "".join(f"{indent}{line}\n" for line in new_lines[:-1])
        after += f"{indent}{new_lines[-1]}{trailing if trailing.strip() else chr(10)}"
        lines[first : last + 1] = [after]
        rewrites.append(Rewrite(node.lineno, before.strip(), after.strip(), tuple(absent)))
    return "".join(lines), sorted(rewrites, key=lambda rewrite: rewrite.line)


def download(version: str, cache: Path = CACHE) -> Path:
    """Return the cached sdist of `DISTRIBUTION` at `version`; download it with pip if missing."""
    folder = cache / version
    found = sorted(folder.glob("*.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    requirement = f"{DISTRIBUTION}=={version}"
    print(f"downloading the {requirement} source distribution into {folder}")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", str(folder), requirement],
        check=True,
    )  # fmt: skip
    found = sorted(folder.glob("*.tar.gz"))
    if not found:
        raise SystemExit(f"pip downloaded no .tar.gz for {requirement} into {folder}")
    return found[0]


def _members(
    archive: tarfile.TarFile, selected: Iterable[str], folder: str = "tests"
) -> dict[str, str]:
    by_suffix = {}
    prefix = f"{folder}/" if folder else ""
    for member in archive.getmembers():
        parts = member.name.split("/", 1)  # drop the <dist>-<version>/ folder
        if len(parts) == 2 and parts[1].startswith(prefix):
            by_suffix[parts[1].removeprefix(prefix)] = member.name
    missing = [path for path in selected if path not in by_suffix]
    if missing:
        raise SystemExit(f"the source distribution has no {prefix}{missing[0]}; update the list")
    return {path: by_suffix[path] for path in selected}


CODE_BLOCK = re.compile(r"^```python\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


def rewrite_guide(text: str) -> str:
    """Rewrite the imports in a Markdown guide's python code blocks; leave all else as is.

    A block that is not valid Python (pseudocode such as ``features=[...]``) stays unchanged.

    Examples:
        >>> rewrite_guide("```python\\nimport bionty as bt\\n```\\n")
        '```python\\nimport lamin_core.bio as bt\\n```\\n'
    """

    def rewrite(match: re.Match[str]) -> str:
        try:
            code = rewrite_imports(match.group(1))[0]
        except SyntaxError:
            code = match.group(1)
        return f"```python\n{code}```"

    return CODE_BLOCK.sub(rewrite, text)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract(sdist: Path, version: str, target: Path = UPSTREAM) -> list[Rewrite]:
    """Write the selected tests of `sdist` to `target`, imports rewritten; return the rewrites."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    header = HEADER.format(dist=DISTRIBUTION, version=version)
    every: list[Rewrite] = []
    with tarfile.open(sdist) as archive:
        for path, member in _members(archive, SELECTED).items():
            handle = archive.extractfile(member)
            assert handle is not None, member  # SELECTED names files, not folders
            text, rewrites = rewrite_imports(handle.read().decode())
            (target / Path(path).name).write_text(header + text)
            every += rewrites
            for rewrite in rewrites:
                note = f"  (absent: {', '.join(rewrite.absent)})" if rewrite.absent else ""
                print(f"{path}:{rewrite.line}: {rewrite.before!r} -> {rewrite.after!r}{note}")
    guides = target / "docs"
    guides.mkdir()
    with tarfile.open(sdist) as archive:
        for path, member in _members(archive, GUIDES, folder="docs").items():
            handle = archive.extractfile(member)
            assert handle is not None, member
            (guides / path).write_text(rewrite_guide(handle.read().decode()))
        (guides / "scripts").mkdir()
        for name, member in _members(archive, GUIDE_SCRIPTS.values(), folder="").items():
            handle = archive.extractfile(member)
            assert handle is not None, member
            script = Path(name).name
            (guides / "scripts" / script).write_text(rewrite_imports(handle.read().decode())[0])
    # a package, so that upstream.test_search does not clash with tests/core/test_search.py
    (target / "__init__.py").write_text(header)
    (target / "_absent.py").write_text(header + ABSENT_MODULE)
    manifest = {
        "distribution": DISTRIBUTION,
        "version": version,
        "sdist": sdist.name,
        "sdist_sha256": _sha256(sdist),
        "files": [Path(path).name for path in SELECTED],
        "guides": list(GUIDES),
        "fetch_sha256": _sha256(Path(__file__)),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return every


def is_current(version: str) -> str:
    """Return why the extracted tests are not current ('' when they are)."""
    if not MANIFEST.exists():
        return (
            f"LaminDB's tests are not fetched ({UPSTREAM} is missing): "
            "run `make lamindb-tests-fetch`"
        )
    manifest = json.loads(MANIFEST.read_text())
    if manifest.get("version") != version:
        return (
            f"the fetched LaminDB tests are of {manifest.get('version')}, the benchmarks use "
            f"{version}: run `make lamindb-tests-fetch`"
        )
    if manifest.get("fetch_sha256") != _sha256(Path(__file__)):
        return "fetch.py changed since the tests were fetched: run `make lamindb-tests-fetch`"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="LaminDB version; default: benchmarks/lamindb_setup.sh's")
    parser.add_argument("--check", action="store_true", help="only check the fetched files")
    args = parser.parse_args(argv)
    version = args.version or lamindb_version()
    if args.check:
        problem = is_current(version)
        print(problem or f"LaminDB {version} tests are fetched in {UPSTREAM}")
        return 1 if problem else 0
    if not is_current(version):
        print(f"LaminDB {version} tests are already fetched in {UPSTREAM}")
        return 0
    rewrites = extract(download(version), version)
    absent = sorted({name for rewrite in rewrites for name in rewrite.absent})
    print(
        f"wrote {len(SELECTED)} test files and {len(GUIDES)} guides to {UPSTREAM}; "
        f"{len(rewrites)} imports rewritten in the tests"
    )
    if absent:
        print(f"no lamin_core equivalent (stand-ins): {', '.join(absent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
