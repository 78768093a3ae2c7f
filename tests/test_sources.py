"""Data sources (crossdomain.data.sources): checksums, explicit data folders, verified downloads."""
import hashlib

import pytest

from crossdomain.cli import main


def test_datasets_checksums_prints_what_a_new_definition_needs(synthetic, capsys):
    assert main(["datasets", "--checksums", "--tasks", "synthetic/motif"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    data = synthetic / "mirror" / "motif.fa"
    assert rows[1][:4] == ["synthetic/motif", "motif", hashlib.sha256(data.read_bytes()).hexdigest(), "matches"]


def test_an_explicit_data_dir_must_exist(capsys):
    assert main(["datasets", "--data-dir", "/nonexistent/mirror"]) == 2
    assert "--data-dir /nonexistent/mirror: does not exist" in capsys.readouterr().err


def test_a_corrupt_copy_in_an_explicit_data_dir_is_an_error_naming_both_checksums(synthetic, tmp_path):
    from crossdomain.data.sources import SourceError, resolve_source
    from crossdomain.data.tasks import get_task

    explicit = tmp_path / "explicit"
    (explicit).mkdir()
    (explicit / "motif.fa").write_text(">s0 no\nACGT\n")
    spec = get_task("synthetic/motif").sources[0]
    with pytest.raises(SourceError, match=rf"motif\.fa has sha256 [0-9a-f]{{64}}, expected {spec.sha256}"):
        resolve_source("synthetic/motif", spec, (str(explicit),))


def test_a_download_is_announced_verified_confined_and_a_bad_one_deleted(tmp_path, monkeypatch, capsys):
    import crossdomain.data.sources as sources
    from crossdomain.data.sources import SourceError, SourceSpec, resolve_source

    payload = b">s0 no\nACGT\n"
    served = {"body": payload}

    class Response:
        def __init__(self, url, timeout):
            self.body = served["body"]

        def __enter__(self):
            import io

            return io.BytesIO(self.body)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(sources.urllib.request, "urlopen", Response)
    monkeypatch.setattr(sources, "mirror_dirs", lambda extra=(): [])
    spec = SourceSpec("motif", hashlib.sha256(payload).hexdigest(), path="dl/motif.fa", url="https://example.org/m.fa")
    resolved = resolve_source("t", spec)
    err = capsys.readouterr().err
    assert "downloading https://example.org/m.fa" in err and f"downloaded {len(payload)} bytes" in err
    assert resolved.files[0].read_bytes() == payload and resolved.location == "url:https://example.org/m.fa"
    served["body"] = b"tampered"
    resolved.files[0].unlink()
    with pytest.raises(SourceError, match="downloaded sha256 .* does not match"):
        resolve_source("t", spec)
    assert not list((resolved.files[0].parent).iterdir())  # the rejected file was deleted
    with pytest.raises(SourceError, match="leaves the cache folder"):
        sources.cache_target(SourceSpec("x", "0", path="../../outside"))
