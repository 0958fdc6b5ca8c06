"""`sc --help` (and `sc GROUP [COMMAND] --help`) without importing Typer: Typer's own output, cached.

The first time, Typer renders the help as usual; its text is kept in the user's cache directory
under a key of everything the text depends on besides code (the words asked, the terminal size,
the environment Typer and sccli read, the interpreter and its ``sys.path``), together with the
size and modification time of every module file that was loaded to render it (sccli's, Typer's
and their dependencies'). A later call with the same key prints the cached text only when every
one of those files is unchanged; any edit, upgrade or reinstall renders it again. So the help
is always the help the current code prints (``tests/cli/test_fast.py`` compares the two).
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

#: Bump when the entry's layout changes.
FORMAT = 1
HELP_WORDS = ("--help", "-h")
#: Environment that can change what the help says, besides code: Typer's and click's switches,
#: the terminal, the locale (click's gettext) and sccli's own variables.
ENV_PREFIXES = ("SC_", "TYPER", "_TYPER", "CLICK", "COLLECTION_", "XDG_", "LC_")
ENV_NAMES = (
    "COLUMNS", "LINES", "TERM", "NO_COLOR", "FORCE_COLOR", "LANG", "LANGUAGE", "MONGO_URL", "DB_NAME", "HOME",
    "PYTHONPATH",
)

Files = tuple[tuple[str, int, int], ...]


def is_help(argv: list[str]) -> bool:
    """``--help`` after at most two command names (no options, nothing else)."""
    *names, last = argv or [""]
    return (
        last in HELP_WORDS
        and len(names) <= 2
        and all(n.isascii() and n.replace("-", "").isalpha() and n.islower() for n in names)
    )


def terminal_size() -> tuple[int, int]:
    """What ``shutil.get_terminal_size`` answers (click sizes the help with it), without importing shutil."""
    try:
        columns, lines = int(os.environ.get("COLUMNS", 0)), int(os.environ.get("LINES", 0))
    except ValueError:
        columns = lines = 0
    if columns <= 0 or lines <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
            real = (size.columns, size.lines)
        except (AttributeError, ValueError, OSError):
            real = (0, 0)
        columns = columns if columns > 0 else real[0] or 80
        lines = lines if lines > 0 else real[1] or 24
    return columns, lines


def key(argv: list[str]) -> str:
    """The cache key of everything but code: words, terminal, environment, interpreter, path."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) or k in ENV_NAMES)
    return repr((FORMAT, tuple(argv), terminal_size(), tuple(env), sys.version, sys.executable, tuple(sys.path)))


def entry_name(entry_key: str) -> str:
    """The entry's file name; the whole key is stored in it too (so a collision is only a miss)."""
    return f"{zlib.crc32(entry_key.encode('utf-8', 'surrogateescape')):08x}"


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sccli", "help")


def files_unchanged(files: Files) -> bool:
    """Whether every recorded module file still has its size and modification time."""
    for path, size, mtime in files:
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_size != size or st.st_mtime_ns != mtime:
            return False
    return True


def loaded_files() -> Files:
    """Every module file loaded so far, but the standard library's (covered by ``sys.version``)."""
    stdlib = os.path.dirname(os.__file__)
    site = os.sep + "site-packages" + os.sep
    found = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or (path.startswith(stdlib) and site not in path):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.append((path, st.st_size, st.st_mtime_ns))
    return tuple(sorted(set(found)))


def read(entry_key: str) -> str | None:
    """The cached help for this key when its code is unchanged, else None."""
    try:
        with open(os.path.join(cache_dir(), entry_name(entry_key)), "rb") as fh:
            stored_key, files, text = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return text if stored_key == entry_key and isinstance(text, str) and files_unchanged(files) else None


def write(entry_key: str, files: Files, text: str) -> None:
    """Keep the help (atomically; a cache that cannot be written is no error)."""
    directory = cache_dir()
    name = entry_name(entry_key)
    temp = os.path.join(directory, f".{name}.{os.getpid()}")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(temp, "wb") as fh:
            marshal.dump((entry_key, files, text), fh)
        os.replace(temp, os.path.join(directory, name))
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass


def render(argv: list[str]) -> tuple[int, str, str]:
    """Typer's help for ``argv``: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from sccli.cli.app import app

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(args=list(argv), prog_name="sc")
        except SystemExit as exc:
            code = exc.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out.getvalue(), err.getvalue()


def serve(argv: list[str]) -> None:
    """Print the help for ``argv`` and exit when it is a help request; else return."""
    if not is_help(argv):
        return
    entry_key = key(argv)
    text = read(entry_key)
    if text is None:
        code, text, errors = render(argv)
        if code != 0 or errors:  # not a help after all (an unknown command...): say what Typer said
            sys.stdout.write(text)
            sys.stderr.write(errors)
            sys.exit(code)
        write(entry_key, loaded_files(), text)
    sys.stdout.write(text)
    sys.exit(0)
