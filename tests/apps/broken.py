"""An app module that fails while being imported (tests the error path)."""

raise RuntimeError("this module is broken on purpose")
