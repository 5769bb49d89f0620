"""`aemgym data fetch webshop` fails cleanly offline; downloads are verified by size and sha256 prefix."""

from __future__ import annotations

import hashlib

import pytest
import typer
from typer.testing import CliRunner

from agent_envs.webshop.fetch import FetchError, RemoteFile, verify
from harness.commands import data, webshop


def test_verify_checks_size_and_hash(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b"[1, 2, 3]")
    digest = hashlib.sha256(b"[1, 2, 3]").hexdigest()
    verify(path, RemoteFile("f.json", 9, digest[:8], "id"))
    with pytest.raises(FetchError, match="bytes"):
        verify(path, RemoteFile("f.json", 10, digest[:8], "id"))
    with pytest.raises(FetchError, match="sha256"):
        verify(path, RemoteFile("f.json", 9, "00000000", "id"))


def test_fetch_fails_cleanly_without_network(tmp_path, monkeypatch):
    import httpx

    def offline(*args, **kwargs):
        raise httpx.ConnectError("Name or service not known")

    monkeypatch.setattr(httpx, "stream", offline)
    app = typer.Typer()
    data.register(app)
    webshop.register(app)
    result = CliRunner().invoke(app, ["data", "fetch", "webshop", "--dest", str(tmp_path)])
    assert result.exit_code == 1 and "fetch failed" in result.output and "ConnectError" in result.output
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    assert CliRunner().invoke(app, ["webshop", "serve", "--help"]).exit_code == 0
