"""Importing this puts shims/ on sys.path, so host code can `import flashsim`."""

import sys

from interpreters import SHIMS

if str(SHIMS) not in sys.path:
    sys.path.insert(0, str(SHIMS))
