"""Build of the C extension pronghorn._core (everything else is in pyproject.toml)."""
import glob
import os

from setuptools import Extension, setup

CORE = os.path.join("src", "pronghorn", "_core")
debug = os.environ.get("PRONGHORN_DEBUG") == "1"

extra = ["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter",
         "-Wno-missing-field-initializers"]
extra += ["-O0", "-g", "-UNDEBUG"] if debug else ["-O3"]

setup(
    ext_modules=[
        Extension(
            "pronghorn._core",
            sources=sorted(glob.glob(os.path.join(CORE, "*.c"))),
            depends=sorted(glob.glob(os.path.join(CORE, "*.h"))),
            include_dirs=[CORE],
            extra_compile_args=extra,
            define_macros=[("_GNU_SOURCE", "1")],
            libraries=["z"],  # permessage-deflate (wsdeflate.c)
        )
    ]
)
