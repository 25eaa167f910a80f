"""``python -m skhisto``: the ``skhisto`` command."""

import sys

from skhisto.cli import main

if __name__ == "__main__":
    sys.exit(main())
