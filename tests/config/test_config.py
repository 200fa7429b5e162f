"""Settings: defaults, validation errors that name the key path, the open-relay guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.core.urls import Scheme, SourceUrl, UpstreamUrl
from maild import config
from maild.cli import main
from maild.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "maild.toml"
    p.write_text(text)
    return p


def test_default_file_in_repo_is_valid_and_matches_design_names():
    s = config.load(REPO / "maild.toml")
    assert s.intake.listen == (("127.0.0.1", 10025),)
    assert s.store.path == REPO / "var" / "maild.db"
    assert s.tracking.key_file == REPO / "var" / "token.key"
    assert s.delivery.upstream == UpstreamUrl(Scheme.MAILDIR, path=REPO / "var" / "outbox")
    assert s.receipts[0].url == SourceUrl(Scheme.MAILDIR, path=REPO / "var" / "receipts")


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    s = config.load(write(tmp_path, '[store]\npath = "db/x.db"\n'))
    assert s.store.path == tmp_path / "db" / "x.db"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[store]\npath = 3\n', "store.path", "expected a string"),
        ('[intake]\nlisten = ["nonsense"]\n', "intake.listen", "HOST:PORT"),
        ('[intake]\nallowed_networks = ["10.0.0.0/33"]\n', "intake.allowed_networks", "CIDR"),
        ('[intake]\nmax_message_size = "huge"\n', "intake.max_message_size", "expected a size"),
        ('[delivery]\nupstream = "ftp://x"\n', "delivery.upstream", "smtp://HOST:PORT"),
        ('[delivery]\nfirst_retry = "soon"\n', "delivery.first_retry", "expected a duration"),
        ('[tracking]\nsubject_pattern = "("\n', "tracking.subject_pattern", "regular expression"),
        ('[tracking]\nsubject_pattern = "no group"\n', "tracking.subject_pattern", "capturing group"),
        ('[tracking]\ndelimiter = "ab"\n', "tracking.delimiter", "non-alphanumeric"),
        ('[tracking]\nreturn_path = "not-an-address"\n', "tracking.return_path", "expected an address"),
        ('[intake]\nbogus = 1\n', "intake.bogus", "unknown setting"),
        ('[nosuchsection]\n', "nosuchsection", "unknown section"),
        ('receipts = 3\n', "receipts", "array of tables"),
        ('[[receipts]]\nurl = 5\n', "receipts[0].url", "expected a string"),
    ],
)
def test_bad_values_name_file_key_and_expectation(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == key
    assert expected in info.value.problem
    assert str(path) in str(info.value)


def test_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        config.load(write(tmp_path, "[store\n"))


def test_missing_explicit_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "absent.toml")


def test_public_listener_without_networks_or_auth_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="open relay") as info:
        config.load(write(tmp_path, '[intake]\nlisten = ["0.0.0.0:25"]\nallowed_networks = []\n'))
    assert info.value.key == "intake.allowed_networks"


def test_loopback_listener_without_networks_is_allowed(tmp_path):
    s = config.load(write(tmp_path, '[intake]\nlisten = ["127.0.0.1:2525"]\nallowed_networks = []\n'))
    assert s.intake.allowed_networks == ()


def test_auth_off_loopback_without_tls_certificate_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, '[intake]\nlisten = ["0.0.0.0:25"]\nusers_file = "users"\n'))
    assert info.value.key == "intake.tls_cert_file"


def test_auth_on_loopback_needs_no_certificate(tmp_path):
    # AUTH without TLS is offered to allowed networks only; a loopback listener's passwords never cross a wire
    s = config.load(write(tmp_path, '[intake]\nusers_file = "users"\n'))
    assert s.intake.tls_cert_file is None


def test_every_setting_has_help_and_a_default():
    rows = config.describe()
    assert len(rows) > 30
    for key, default, help_text in rows:
        assert help_text.strip(), key
        assert default is not None, key


def test_durations_and_sizes_accept_units(tmp_path):
    s = config.load(write(tmp_path, '[delivery]\nfirst_retry = "2m"\nlifetime = "1d"\n[intake]\nmax_message_size = "1MB"\n'))
    assert s.delivery.first_retry == 120
    assert s.delivery.lifetime == 86400
    assert s.intake.max_message_size == 1024 * 1024


def test_check_config_exits_2_naming_the_key(tmp_path, capsys):
    path = write(tmp_path, '[delivery]\nconcurrency = 0\n')
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "delivery.concurrency" in err and str(path) in err and "at least 1" in err


def test_check_config_redacts_a_password_in_an_url(tmp_path, capsys):
    path = write(tmp_path, '[[receipts]]\nurl = "imap://user:s3cret@127.0.0.1:143/INBOX"\n')
    assert main(["check-config", "--config", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "user:***@127.0.0.1" in out


def test_event_loop_defaults_to_auto_and_takes_each_named_loop(tmp_path):
    assert config.load(write(tmp_path, "")).daemon.event_loop == "auto"
    for name in ("auto", "uvloop", "asyncio"):
        assert config.load(write(tmp_path, f'[daemon]\nevent_loop = "{name}"\n')).daemon.event_loop == name


def test_an_unknown_event_loop_is_a_config_error_naming_the_key(tmp_path):
    path = write(tmp_path, '[daemon]\nevent_loop = "trio"\n')
    with pytest.raises(config.ConfigError, match=r"daemon\.event_loop.*expected one of auto, uvloop, asyncio, not 'trio'"):
        config.load(path)
    with pytest.raises(config.ConfigError, match=r"daemon\.event_loop"):
        config.load(write(tmp_path, "[daemon]\nevent_loop = 1\n"))


def test_uvloop_named_but_not_installed_is_a_config_error(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a))
    with pytest.raises(config.ConfigError, match=r"daemon\.event_loop.*uvloop is not installed"):
        config.load(write(tmp_path, '[daemon]\nevent_loop = "uvloop"\n'))
    assert config.load(write(tmp_path, '[daemon]\nevent_loop = "auto"\n')).daemon.event_loop == "auto"
