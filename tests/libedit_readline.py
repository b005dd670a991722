"""CPython's readline module compiled against libedit, as python.org's and uv's Pythons ship it.

macOS's python.org Pythons and uv's standalone Pythons link their readline module to libedit
(editline), not GNU readline. This builds the same thing here: CPython's own Modules/readline.c
for the running Python (as the `gnureadline` source package ships it, one copy per Python
version), compiled with WITH_EDITLINE against Debian's libedit-dev, into a folder to put first
on PYTHONPATH. The result is cached in .cache/; libedit-dev is installed with apt-get when
missing and this runs as root. Anything that stops the build raises BuildError with the reason.

    python tests/libedit_readline.py     # build it and print the folder
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
SOURCE_PACKAGE = "gnureadline==8.3.3"  # its Modules/3.N/readline.c is CPython's, patched for GNU readline
EDITLINE_HEADER = Path("/usr/include/editline/readline.h")


class BuildError(Exception):
    """The libedit readline module cannot be built here; the message says why and what to do."""


def build(cache: Path = CACHE) -> Path:
    """The folder holding readline<ext> built against libedit for this Python (built once, then reused)."""
    target = cache / f"libedit-readline-{sys.implementation.cache_tag}"
    module = target / f"readline{sysconfig.get_config_var('EXT_SUFFIX')}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "libedit-readline.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other test runs share .cache
        if not module.exists():
            install_libedit_dev()
            with tempfile.TemporaryDirectory(dir=cache) as scratch:
                built = compile_module(readline_source(Path(scratch), cache), Path(scratch) / "out")
                check_uses_libedit(built.parent)
                shutil.rmtree(target, ignore_errors=True)
                os.replace(built.parent, target)
    return target


def install_libedit_dev() -> None:
    if EDITLINE_HEADER.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BuildError(f"{EDITLINE_HEADER} is missing: install libedit-dev (e.g. sudo apt-get install libedit-dev)")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "libedit-dev"]):
        run(command, "installing libedit-dev")


def readline_source(scratch: Path, cache: Path) -> Path:
    """CPython's readline.c for this Python version, from the gnureadline source package (downloaded once)."""
    archive = cache / f"{SOURCE_PACKAGE.replace('==', '-')}.tar.gz"
    if not archive.exists():
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        run([*pip, "-d", str(scratch), SOURCE_PACKAGE], f"downloading {SOURCE_PACKAGE}'s source")
        os.replace(scratch / archive.name, archive)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.12+, and 3.10/3.11 security releases
            tar.extractall(scratch, filter="data")
        else:
            tar.extractall(scratch)
    modules = scratch / archive.name.removesuffix(".tar.gz") / "Modules"
    version = modules / "{}.{}".format(*sys.version_info[:2])
    folder = version if version.exists() else modules / f"{sys.version_info[0]}.x"
    return folder / "readline.c"


def compile_module(source: Path, out: Path) -> Path:
    """Undo gnureadline's changes (GNU only, module name) and compile against libedit."""
    text = source.read_text(encoding="utf-8")
    text = text.replace("#undef WITH_EDITLINE", "")
    text = text.replace(
        "#  include <editline/readline.h>",
        "#  include <editline/readline.h>\n#  undef HAVE_RL_COMPDISP_FUNC_T",  # pyconfig.h says GNU readline has it
    )
    text = text.replace("PyInit_gnureadline", "PyInit_readline").replace('"gnureadline"', '"readline"')
    source.write_text(text, encoding="utf-8")
    out.mkdir()
    module = out / f"readline{sysconfig.get_config_var('EXT_SUFFIX')}"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise BuildError("no C compiler (cc or gcc) to build the libedit readline module: install gcc")
    include = sysconfig.get_paths()["include"]
    flags = ["-shared", "-fPIC", "-O1", "-w", "-DWITH_EDITLINE", f"-I{include}"]
    run([compiler, *flags, str(source), "-o", str(module), "-ledit"], "compiling readline.c against libedit")
    return module


def check_uses_libedit(folder: Path) -> None:
    probe = "import readline; print(readline.__file__, readline.__doc__)"
    env = {**os.environ, "PYTHONPATH": str(folder)}
    found = run([sys.executable, "-c", probe], "importing the libedit readline module", env=env)
    if str(folder) not in found or "libedit" not in found:
        raise BuildError(f"the built readline module is not libedit's: {found.strip()}")


def run(command: list[str], doing: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    except OSError as exc:
        raise BuildError(f"{doing} failed: {exc}") from exc
    if done.returncode != 0:
        raise BuildError(f"{doing} failed ({' '.join(command[:3])}...): {(done.stderr or done.stdout)[-2000:]}")
    return done.stdout


if __name__ == "__main__":
    print(build())
