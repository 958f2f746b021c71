"""Builds the C library (torch_w2v/csrc: the fused CPU step, the corpus scan) at install time; the rest is
in pyproject.toml.

The extension is optional: without a working C compiler (or Python's headers) the package still installs,
and training falls back to the torch step with a warning that names the fix. The build needs no torch.

Flags: the C is compiled for speed (-O3 and the float flags gensim's word2vec.c is usually built with) and
for this machine's CPU (-march=native), retried without -march=native when the compiler refuses it.
``TORCH_W2V_PORTABLE=1`` leaves -march=native out, for a wheel that runs on other CPUs.
"""
import hashlib
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The flags the step is tuned with: -fassociative-math lets dot products vectorise; the others drop errno
# and trap bookkeeping around expf/log1p. Results stay within float rounding of the torch step.
GCC_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fassociative-math", "-fno-signed-zeros",
             "-fno-wrapv"]  # Python's own CFLAGS add -fwrapv, which the step has no need of
MSVC_FLAGS = ["/O2", "/fp:fast"]
NATIVE = ["-march=native"]
FIX = ("install a C compiler and Python's headers (Debian/Ubuntu: apt-get install gcc python3-dev) and "
       "reinstall torch_w2v: pip install --force-reinstall --no-deps . (from a checkout: pip install -e .)")


class OptionalBuildExt(build_ext):
    """build_ext that tries -march=native, then without it, then installs without the extension."""

    def build_extension(self, ext):
        msvc = self.compiler.compiler_type == "msvc"
        base = MSVC_FLAGS if msvc else GCC_FLAGS
        portable = os.environ.get("TORCH_W2V_PORTABLE", "") not in ("", "0")
        attempts = [base] if msvc or portable else [base + NATIVE, base]
        errors = []
        for flags in attempts:
            ext.extra_compile_args = list(flags)
            try:
                super().build_extension(ext)
                return
            except Exception as exc:  # distutils' CompileError, LinkError, DistutilsExecError, OSError
                errors.append(f"{type(exc).__name__}: {exc}")
        print(f"WARNING: torch_w2v: could not build the fused CPU step {ext.name} ({errors[-1]}); torch_w2v is "
              f"installed without it and trains with the slower torch step on the CPU. To build it, "
              f"{FIX}", file=sys.stderr)


# the step and the corpus scan (torch_w2v/clib.py lists the same files, in the same order)
SOURCES = ["torch_w2v/csrc/w2v_step.c", "torch_w2v/csrc/w2v_scan.c"]
# compiled into the library, so that the loader can refuse a build older than the sources beside it
# (an editable install whose C files were edited since)
SOURCE_HASH = hashlib.sha256(b"".join(open(path, "rb").read() for path in SOURCES)).hexdigest()[:16]

setup(
    ext_modules=[Extension(
        "torch_w2v.training.steps._w2v_step",
        sources=[*SOURCES, "torch_w2v/csrc/w2v_module.c"],
        define_macros=[("W2V_SOURCE_HASH", f'"{SOURCE_HASH}"')],
        libraries=[] if os.name == "nt" else ["m"],
        optional=True,  # a second guard: setuptools also skips an optional extension that fails to build
    )],
    cmdclass={"build_ext": OptionalBuildExt},
)
