"""Make the example importable from a source checkout without installing it (Relance's own
test run installs it into a throwaway virtualenv instead, to prove discovery)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
