"""``ln.setup``: LaminDB 2.x's namespace for creating and opening catalogs.

``ln.setup.init(storage=..., db=...)``, ``ln.setup.connect(...)`` and ``ln.setup.settings`` are
`lamin_core.init`, `lamin_core.connect` and ``ln.settings`` under the names LaminDB 2.x code uses;
``ln.setup.close()`` closes the active catalog (`deactivate`).

Examples:
    >>> import lamin_core as ln
    >>> ln.setup.init(storage="./mydata")
    >>> ln.setup.settings.user.handle
    'alice'
"""

from lamin_core.instance import settings
from lamin_core.instance.catalog import connect, deactivate, init

close = deactivate  # LaminDB 2.x: ln.setup.close()

__all__ = ["close", "connect", "init", "settings"]
