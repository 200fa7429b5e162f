"""`maild keys list` and `maild keys rotate` on a key file: ids only (never secrets), the new key signs, old keys stay."""

from __future__ import annotations

from pathlib import Path

from maild import tokens
from maild.cli import main


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "maild.toml"
    cfg.write_text('[store]\npath = "m.db"\n[tracking]\nkey_file = "token.key"\n')
    return cfg


def test_rotate_puts_a_new_signing_key_in_front_and_keeps_the_old_ones(tmp_path, capsys):
    cfg, key_file = _config(tmp_path), tmp_path / "token.key"
    assert main(["keys", "rotate", "--config", str(cfg)]) == 0  # creates the file with "a", then adds "b"
    first = tokens.load_keys(key_file)
    assert list(first.keys) == ["b", "a"] and first.signing == "b"
    old_token = tokens.mint(tokens.KeySet({"a": first.keys["a"]}, "a"), 77)

    assert main(["keys", "rotate", "--config", str(cfg)]) == 0
    keys = tokens.load_keys(key_file)
    assert list(keys.keys) == ["c", "b", "a"] and keys.signing == "c"
    assert keys.keys["a"] == first.keys["a"] and keys.keys["b"] == first.keys["b"]  # old secrets unchanged
    assert tokens.verify(keys, old_token) == tokens.Verified(77, "a")
    assert tokens.mint(keys, 78)[0] == "c"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_text().startswith("#")  # the comment line survives
    capsys.readouterr()

    assert main(["keys", "list", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["c  (signing)", "b", "a"]
    for secret in keys.keys.values():
        assert secret.hex() not in out


def test_list_without_a_key_file_is_a_clear_error(tmp_path, capsys):
    assert main(["keys", "list", "--config", str(_config(tmp_path))]) != 0
    err = capsys.readouterr().err
    assert "token key file not found" in err and "Traceback" not in err
