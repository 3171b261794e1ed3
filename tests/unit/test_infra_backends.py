"""Choosing FerretDB's backend, and where PostgreSQL may keep its cluster."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import infra.servers
from infra.servers import ferretdb, postgresql


@pytest.mark.parametrize(("backend", "with_postgresql"), [("postgresql", True), ("sqlite", False), (None, True)])
def test_postgresql_is_a_server_only_while_ferretdb_stores_its_data_there(monkeypatch, backend, with_postgresql):
    if backend is None:
        monkeypatch.delenv("MERCHANT_FERRETDB_BACKEND", raising=False)
    else:
        monkeypatch.setenv("MERCHANT_FERRETDB_BACKEND", backend)
    try:
        names = importlib.reload(infra.servers).NAMES
        assert ("postgresql" in names) is with_postgresql
        assert names.index("ferretdb") > names.index("kafka")
        assert infra.servers.load("postgresql") is postgresql  # always loadable (`--only`)
    finally:
        monkeypatch.undo()
        importlib.reload(infra.servers)


def test_a_folder_behind_a_private_parent_is_not_reachable_for_another_user():
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # not tmp_path: pytest's own base folder is private
    base.chmod(0o755)
    private = base / "home"
    cluster = private / "run" / "postgresql"
    cluster.mkdir(parents=True)
    private.chmod(0o700)
    try:
        if os.geteuid() == 0:  # root owns tmp_path; "nobody" is another user
            assert not postgresql._reachable(cluster, "nobody")
            private.chmod(0o711)
            assert postgresql._reachable(cluster, "nobody")
        assert postgresql._reachable(cluster, None)  # the server runs as ourselves
    finally:
        shutil.rmtree(base)


def test_ferretdb_collects_garbage_less_often_unless_the_environment_says_otherwise():
    assert ferretdb.environment({}) == {"DO_NOT_TRACK": "1", "GOGC": "400", "GOMEMLIMIT": "4GiB"}
    chosen = ferretdb.environment({"GOGC": "100", "PATH": "/bin"})
    assert "GOGC" not in chosen and chosen["GOMEMLIMIT"] == "4GiB"  # the inherited GOGC=100 stands
