"""`python -m lamin_core.cli`: the `lamin` command line."""

import sys

from lamin_core.cli import main

sys.exit(main())
