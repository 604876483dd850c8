"""An app module whose own import fails on a missing dependency."""

import pronghorn_no_such_dependency  # noqa: F401
