"""Makes `import cnn` find the package next to this folder (your handout's `cnn/`).

Set CNN_PACKAGE_ROOT to the folder that holds another `cnn/` to test that one instead.
"""

import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("CNN_PACKAGE_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
