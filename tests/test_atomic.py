"""Atomic writes (crossdomain.atomic): files follow the umask."""
import os
import stat


def test_output_files_follow_the_umask(tmp_path):
    from crossdomain.adapters import Record
    from crossdomain.atomic import atomic_write_json
    from crossdomain.data.prepare import write_records_cache

    previous = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        write_records_cache(tmp_path / "cache.jsonl.gz", [Record("r", "a", ["A"], "f:1")], {}, ["A"])
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(previous)
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.json", "cache.jsonl.gz", "b.txt")}
    assert set(modes.values()) == {0o644}, modes
