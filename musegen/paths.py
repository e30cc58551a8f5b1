"""Where musegen's own files are: the package, its data, the project checkout around it.

One place for these, so that a module moving inside the package never breaks a path.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # musegen/
PACKAGE_DATA = PACKAGE_DIR / "data"  # files shipped inside the package (the corpus, JSB Chorales)
PROJECT_ROOT = PACKAGE_DIR.parent  # the checkout (streamlit_app.py, assets/, runs/) when run from one
ASSETS = PROJECT_ROOT / "assets"
