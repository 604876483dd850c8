"""``python -m pronghorn run MODULE:ATTR``: the same command line as ``pronghorn``."""

import sys

from pronghorn.cli import main

sys.exit(main())
