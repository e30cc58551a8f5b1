"""``python -m musegen`` entry point."""

import sys

from musegen.cli import main

if __name__ == "__main__":
    sys.exit(main())
