"""Fixtures of the hostile suite: an in-process CLI, tiny file systems, a clean environment."""

from __future__ import annotations

import functools

import pytest

from ._util import cli_inprocess, mount_tmpfs, unmount


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args)`` runs ``cli.main`` in this process and returns an Outcome."""
    monkeypatch.delenv("INSOLEGEN_PROFILES", raising=False)
    return functools.partial(cli_inprocess, capsys)


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(*options)`` mounts a tmpfs (64 KiB unless ``size=`` is given) and returns it.

    Root can write through any permission bit, so a folder that really refuses
    writes, or a disk that is really full, takes a mount; skipped where the
    sandbox does not allow one.
    """
    mounted = []

    def make(*options: str):
        path = tmp_path / f"mnt{len(mounted)}"
        if not mount_tmpfs(path, *options):
            pytest.skip("mount -t tmpfs is not permitted here")
        mounted.append(path)
        return path

    yield make
    for path in reversed(mounted):
        unmount(path)
