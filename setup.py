"""Only the optional compiled build lives here; everything else is in pyproject.toml.

`pip install .` compiles, with Cython, when it can:

* the core's and the engine's hot modules (`evtool.COMPILED_MODULES`), from their own `.py` source, with
  the `.pxd` declarations beside each (extension types for the per-message classes, typed locals on the
  hot path: Cython's pure-Python mode, https://cython.readthedocs.io/en/latest/src/tutorial/pure.html);
* evtool/trace/_rowcodec.pyx (the trace digest's row encoder, byte for byte what marshal writes) and
  evtool/trace/_foldfast.pyx (the metrics' latency buckets, the same counts as the pure code).

`EVTOOL_COMPILE` decides (`compile_mode`):

* unset (`auto`): a wheel build (`pip install .`) compiles when Cython and a C compiler are there (the
  in-tree backend, _build/evtool_build.py, adds Cython to the build requirements) and installs the pure
  package, with a warning, when anything in the compiled build fails: it installs anywhere. An editable
  install (`pip install -e .`) stays pure, so that an edit to a `.py` file is what runs;
* `1`: compile, and fail the build when that is not possible;
* `0`: never compile (a pure package, no Cython, no compiler).

The compiled and the pure build are one source: `EVTOOL_PURE=1` at run time uses the pure source even
where a compiled build is installed, and `evtool --version` says which one runs.
"""

import ast
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODES = {"": "auto", "auto": "auto", "1": "required", "0": "off"}
BUILDING = ("bdist_wheel", "build", "build_ext", "install", "bdist_egg")
"""The setup.py commands that build the package's modules (not `egg_info`, `dist_info` or `sdist`)."""
EDITABLE = ("editable_wheel", "develop")


def compile_mode() -> str:
    """`auto`, `required` or `off`, from EVTOOL_COMPILE (anything else stops the build with the choices)."""
    value = os.environ.get("EVTOOL_COMPILE", "").strip().lower()
    if value not in MODES:
        raise SystemExit(f"EVTOOL_COMPILE={value!r}: use 1 (compile, or fail), 0 (pure Python) or leave it unset "
                         "(compile when possible)")
    return MODES[value]


def compiled_modules() -> list[str]:
    """`evtool.COMPILED_MODULES`, read from the source (the package is not importable while it builds)."""
    tree = ast.parse(Path(__file__).with_name("evtool").joinpath("__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED_MODULES":
            return list(ast.literal_eval(node.value))
    raise SystemExit("evtool/__init__.py: COMPILED_MODULES not found")


def pure_after_all(reason: object) -> None:
    """Say on standard error that this build installs the pure package, and why."""
    print(f"evtool: the compiled build failed ({reason}); installing the pure-Python package "
          "(the same behaviour, slower; EVTOOL_COMPILE=1 makes this an error)", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that, unless the compiled build is required, leaves the package pure when any extension fails.

    All or nothing: the compiled modules declare their types for each other (`.pxd`), so a package with some
    of them compiled and the rest pure would not import; a failure removes whatever was built.
    """

    def build_extensions(self) -> None:
        # no debug information: it was 40 % of the compile time and 7/8 of each module's size (engine.c: 12.6 s
        # and 5.4 MB with the interpreter's `-g`, 7.7 s and 0.7 MB without), and the code is the same
        if self.compiler.compiler_type == "unix":
            for ext in self.extensions:
                ext.extra_compile_args = [*ext.extra_compile_args, "-g0"]
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a missing compiler, a compile error, a failed link: all the same here
            if compile_mode() == "required":
                raise
            for ext in self.extensions:
                built = Path(self.get_ext_fullpath(ext.name))
                built.unlink(missing_ok=True)
            self.extensions = []
            # a wheel of only Python files is tagged as one (py3-none-any), as a build with nothing to compile
            wheel = self.distribution.command_obj.get("bdist_wheel")
            if wheel is not None:
                wheel.root_is_pure = True
            pure_after_all(exc)


def extensions(mode: str) -> list[Extension]:
    """The Cython extensions to build, or none (a pure package), by the mode and what this machine has."""
    argv = set(sys.argv[1:])
    if mode == "off" or not argv & set(BUILDING + EDITABLE):
        return []
    if mode == "auto" and argv & set(EDITABLE):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as missing:  # pip asks the backend for the build requirements first: Cython comes with them
        if mode == "required":
            raise SystemExit("EVTOOL_COMPILE=1 needs Cython (pip install 'cython>=3.0,<4', or build with isolation)"
                             ) from missing
        print("evtool: Cython is not installed; installing the pure-Python package", file=sys.stderr)
        return []
    sources = [Extension(name, [name.replace(".", "/") + ".py"]) for name in compiled_modules()]
    sources.append(Extension("evtool.trace._rowcodec", ["evtool/trace/_rowcodec.pyx"]))
    sources.append(Extension("evtool.trace._foldfast", ["evtool/trace/_foldfast.pyx"]))
    try:
        # annotation_typing off: a compiled module takes the same values the pure one does (annotations such
        # as `int` or `str | None` would otherwise be enforced as C-level types)
        return cythonize(sources, language_level=3, compiler_directives={"annotation_typing": False},
                         nthreads=os.cpu_count() or 1)
    except Exception as exc:  # Cython refusing the source: the pure package still installs
        if mode == "required":
            raise
        pure_after_all(exc)
        return []


ext_modules = extensions(compile_mode())
# the C files compile in parallel, one per core
setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt},
      options={"build_ext": {"parallel": os.cpu_count() or 1}})
