"""Import on first use: a cold start loads what connecting and querying need, nothing more.

pandas, pyarrow, anndata and alembic come with the first call that uses them (a DataFrame, a
file, a search, a new schema): `on_first_call` wraps such a function, `first_use_getattr` makes a
package's names load when first read (PEP 562).

Examples:
    >>> registry_df = on_first_call("lamin_core.query.dataframe", "registry_df")
    >>> __getattr__ = first_use_getattr(__name__, globals(), {"Curator": "lamin_core.curators"})
    >>> names = {"Record": "lamin_core.models.record:Record"}  # module:attribute
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["first_use_getattr", "on_first_call"]


def on_first_call(module: str, name: str) -> Callable[..., Any]:
    """Return a callable that imports `module` when first called, then calls its `name`."""
    target: list[Callable[..., Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not target:
            target.append(getattr(importlib.import_module(module), name))
        return target[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported on first call."
    return call


def first_use_getattr(
    package: str, namespace: dict[str, Any], names: dict[str, str]
) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports each of `names` from its module when read.

    Args:
        package: The name of the module the ``__getattr__`` belongs to (for the error).
        namespace: That module's ``globals()``: a loaded name is stored there, so the next read
            does not come back here.
        names: Attribute name -> the module that defines it (or, for a submodule of
            `package` with that name, the module itself); ``"module:attribute"`` when the
            module's attribute has another name or the name is also a submodule's.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target, _, attribute = names[name].partition(":")
        module = importlib.import_module(target)
        # a name may be the module itself (``ln.curators``) or one of its attributes
        if attribute:
            value = getattr(module, attribute)
        elif target == f"{package}.{name}":
            value = module
        else:
            value = getattr(module, name)
        namespace[name] = value
        return value

    return __getattr__
