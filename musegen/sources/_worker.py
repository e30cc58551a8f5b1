"""A decoding worker: ``python -m musegen.sources._worker FD``, started by :mod:`musegen.sources.sandbox`."""

import sys

from musegen.sources.sandbox import serve

if __name__ == "__main__":
    serve(int(sys.argv[1]))
