"""`import lamin_core as ln`: the names users write, pinned so that a change is a decision."""

import lamin_core as ln

PUBLIC = {
    "Artifact",
    "Collection",
    "Curator",
    "DoesNotExist",
    "Feature",
    "FeatureSet",
    "FeatureValue",
    "FieldError",
    "Instance",
    "InstanceError",
    "IntegrityError",
    "LaminError",
    "MultipleResultsFound",
    "NoWriteAccess",
    "Project",
    "Q",
    "QuerySet",
    "Record",
    "Reference",
    "Run",
    "Schema",
    "Space",
    "Storage",
    "StorageError",
    "Transform",
    "ULabel",
    "User",
    "ValidationError",
    "__version__",
    "connect",
    "curators",
    "errors",
    "examples",
    "finish",
    "flow",
    "get_instance",
    "init",
    "lineage",
    "save",
    "settings",
    "setup",
    "step",
    "track",
    "tracked",
    "view",
}


def test_lamin_core_all_is_the_pinned_public_api() -> None:
    assert set(ln.__all__) == PUBLIC
    assert len(ln.__all__) == len(PUBLIC)  # no name listed twice


def test_lamin_core_every_public_name_is_defined() -> None:
    missing = [name for name in ln.__all__ if not hasattr(ln, name)]

    assert not missing
