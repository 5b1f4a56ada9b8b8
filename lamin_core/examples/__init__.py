"""Example datasets and schemas, under the names LaminDB 2.x's documentation uses (``ln.examples``).

Everything is generated in memory or shipped with the package; nothing is downloaded.

Examples:
    >>> df = ln.examples.datasets.mini_immuno.get_dataset1(with_cell_type_typo=True)
    >>> schema = ln.examples.datasets.mini_immuno.define_mini_immuno_schema_flexible()
    >>> ln.curators.DataFrameCurator(df, schema).validate()
"""

from lamin_core.examples import datasets, schemas

__all__ = ["datasets", "schemas"]
