"""The layers (ARCHITECTURE.md): a lower layer reaches higher behaviour only through the binding."""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

import lamin_core as ln
from lamin_core import binding
from lamin_core.annotations.feature_values import ArtifactFeatures

FACE = {"lamin_core.cli", "lamin_core.testing"}


def test_importing_lamin_core_installs_every_binding():
    assert binding.missing() == []
    assert all(callable(getattr(binding.above, name)) for name in binding.Above.__annotations__)


@pytest.mark.parametrize(
    "module",
    [
        "lamin_core.models",
        "lamin_core.instance",
        "lamin_core.bio",
        # a layer above the models, whose import of the models runs before it is complete
        "lamin_core.query",
        "lamin_core.tracking",
    ],
)
def test_importing_a_lower_module_first_still_binds_the_models(module: str):
    # a user (or a Dagster step process) may import a submodule before lamin_core itself
    code = (
        f"import {module}\n"
        "from lamin_core.models import Artifact, ULabel\n"
        "from lamin_core.binding import missing\n"
        "print(missing(), type(ULabel.filter(name='x')).__name__, type(Artifact.features).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["[]", "QuerySet", "ArtifactFeatures"]


def test_an_unbound_behaviour_says_what_to_import():
    table = binding.Above()  # a table nobody installed into

    with pytest.raises(
        binding.UnboundError, match=r"'save_artifact' is not installed.*Import lamin_core"
    ):
        table.save_artifact  # noqa: B018

    with pytest.raises(AttributeError):
        table.not_a_declared_behaviour  # noqa: B018


def test_install_refuses_undeclared_names_and_non_callables():
    with pytest.raises(TypeError, match=r"declares no 'save_artefact'.*save_artifact"):
        binding.install(save_artefact=print)
    with pytest.raises(TypeError, match="'search' must be callable"):
        binding.install(search="search")  # type: ignore[arg-type]

    assert binding.missing() == []
    assert binding.above.search is not None and callable(binding.above.search)


def test_accessors_come_from_the_annotation_layer(instance: ln.Instance):
    assert isinstance(ln.Artifact.features, ArtifactFeatures)
    assert isinstance(ln.Artifact.labels, binding.Accessor)  # on the class: the accessor itself


def test_only_the_face_imports_the_package_root():
    graph = grimp.build_graph("lamin_core", exclude_type_checking_imports=True)

    importers = graph.find_modules_that_directly_import("lamin_core")

    assert importers <= FACE, sorted(importers - FACE)


def test_the_models_import_no_higher_layer_even_inside_functions():
    graph = grimp.build_graph("lamin_core", exclude_type_checking_imports=True)
    higher = [
        "query",
        "artifacts",
        "annotations",
        "search",
        "tracking",
        "lineage",
        "display",
        "curators",
    ]

    upward = [
        (importer, imported)
        for importer in graph.find_descendants("lamin_core.models") | {"lamin_core.models"}
        for imported in graph.find_modules_directly_imported_by(importer)
        if any(
            imported == f"lamin_core.{name}" or imported.startswith(f"lamin_core.{name}.")
            for name in higher
        )
    ]

    assert upward == []


def test_public_names_stay_what_they_are_after_every_module_is_imported():
    # a submodule imported later must not shadow a public name of the same spelling
    # (`ln.view` the function, not the module that defines it)
    code = (
        "import importlib, pkgutil, types\n"
        "import lamin_core as ln\n"
        "before = {name: type(getattr(ln, name)).__name__ for name in ln.__all__}\n"
        "for module in pkgutil.walk_packages(ln.__path__, 'lamin_core.'):\n"
        "    if not module.name.startswith('lamin_core.migrations.'):  # alembic runs those\n"
        "        importlib.import_module(module.name)\n"
        "after = {name: type(getattr(ln, name)).__name__ for name in ln.__all__}\n"
        "print(sorted(n for n in before if before[n] != after[n]))\n"
        "print(sorted(n for n in after if after[n] == 'module'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    changed, modules = result.stdout.splitlines()[-2:]

    assert changed == "[]"
    # the namespaces ln.errors, ln.curators, ln.examples and ln.setup (ln.settings: a class of
    # its own)
    assert modules == "['curators', 'errors', 'examples', 'setup']"
