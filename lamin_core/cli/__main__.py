"""`python -m lamin_core.cli`: the `lamin` command line."""

import sys

from lamin_core.cli import main

if __name__ == "__main__":  # importing the module (walking the package) runs nothing
    sys.exit(main())
