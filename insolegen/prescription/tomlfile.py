"""Reading the small TOML files profiles and bases are made of, with one-line errors."""

from __future__ import annotations

import difflib
import functools
import os
import stat
import tomllib
from importlib import resources
from pathlib import Path

from insolegen.core.errors import ProfileError

MAX_PROFILE_BYTES = 1 << 20   # a profile or base is a few hundred bytes


def read_toml(path: Path, where: str, top_keys: tuple[str, ...]) -> dict:
    """A small TOML file's table, its top-level keys checked; errors start with ``where``."""
    try:
        info = path.stat()  # before opening: opening a FIFO would block
        if not stat.S_ISREG(info.st_mode):
            raise ProfileError(f"{where}not a regular file")
        if info.st_size > MAX_PROFILE_BYTES:
            raise ProfileError(f"{where}{info.st_size} bytes, more than the "
                               f"{MAX_PROFILE_BYTES} a profile may have")
        text = path.read_text(encoding="utf-8-sig")  # -sig: Notepad's byte order mark
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        last = f"(at line {max(len(text.splitlines()), 1)}, the end of the file)"
        raise ProfileError(f"{where}TOML syntax error: "
                           f"{str(exc).replace('(at end of document)', last)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{where}cannot be read: {exc}") from None
    for key in data:
        if key not in top_keys:
            close = difflib.get_close_matches(key, top_keys, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ProfileError(f"{where}{key!r}: unknown key; {hint}known: "
                               f"{', '.join(top_keys)}")
    return data


@functools.cache
def _builtin(package: str) -> Path:
    return Path(str(resources.files(package)))


def folders(package: str, env: str, what: str) -> list[Path]:
    """Where files are looked up: the folder ``$env`` names first (a lab's own), then the
    built-in data ``package``; ``what`` names the files in the error."""
    dirs = [_builtin(package)]
    extra = os.environ.get(env)
    if extra:
        folder = Path(extra)
        if not folder.is_dir():
            raise ProfileError(f"{env} = {extra!r}: not a folder of {what} files")
        dirs.insert(0, folder)
    return dirs
