from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from keibi.config import FeedConfig, load_config
from keibi.errors import ConfigError


def test_defaults_put_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    cfg = load_config(None, environ={"KEIBI_DATA_DIR": str(tmp_path)})
    assert cfg.store_url == f"sqlite:///{tmp_path / 'keibi.db'}"
    assert cfg.detect.ssh_min_attempts == 20


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "keibi.toml"
    path.write_text(
        '[keibi]\ndata_dir = "/srv/keibi"\nregion = "eu-west-1"\n'
        '[intel]\nthreat_lists = ["lists/t.txt", "stix=lists/b.json"]\n'
        "[detect]\nportscan_min_ports = 40\nbrute_force_window_minutes = 5\n"
    )
    cfg = load_config(path, environ={"KEIBI_DATABASE_URL": "postgresql://u@h/db"})
    assert cfg.data_dir == Path("/srv/keibi")
    assert cfg.region == "eu-west-1"
    assert cfg.store_url == "postgresql://u@h/db"
    assert cfg.intel.threat_lists == (str(tmp_path / "lists/t.txt"), f"STIX={tmp_path / 'lists/b.json'}")
    assert cfg.detect.portscan_min_ports == 40
    assert cfg.detect.brute_force_window == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[detect]\nportscan_min_port = 3\n", "keibi.toml:detect.portscan_min_port: unknown key"),
        (
            "[detect]\nssh_min_attempts = -1\n",
            "keibi.toml:detect.ssh_min_attempts: must be a positive number",
        ),
        ("[intel]\nthreat_lists = 'x.txt'\n", "keibi.toml:intel.threat_lists: must be a list of file paths"),
        ("[keibi\n", "keibi.toml: not valid TOML"),
        ("[server]\nport = 70000\n", "keibi.toml:server.port: must be a port number"),
        ("[server]\nlisten = 1\n", "keibi.toml:server.listen: unknown key"),
        ("[server]\nlist_locations = ['ftp']\n", "keibi.toml:server.list_locations: must be a list of"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keibi.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_missing_config_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml", environ={})


def test_feeds_are_read_with_their_category(tmp_path: Path) -> None:
    cfg = tmp_path / "keibi.toml"
    cfg.write_text('[intel]\nfeeds = [{ path = "lists/tor.txt", category = "Tor" }]\n')
    loaded = load_config(cfg, environ={})
    assert loaded.intel.feeds == (FeedConfig(path=str(tmp_path / "lists/tor.txt"), category="Tor"),)


def test_a_feed_without_category_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "keibi.toml"
    cfg.write_text('[intel]\nfeeds = [{ path = "tor.txt" }]\n')
    with pytest.raises(ConfigError, match=r"intel\.feeds\[0\]\.category"):
        load_config(cfg, environ={})


def test_server_settings_from_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "keibi.toml"
    path.write_text(
        '[server]\nhost = "0.0.0.0"\nport = 9000\nmax_request_bytes = 4096\nlist_locations = ["s3"]\n'
    )
    cfg = load_config(path, environ={})
    assert (cfg.server.host, cfg.server.port, cfg.server.max_request_bytes) == ("0.0.0.0", 9000, 4096)
    assert cfg.server.list_locations == ("s3",)
    assert cfg.server.max_clock_skew_seconds == 300
    env = {"KEIBI_SERVER_PORT": "9100", "KEIBI_SERVER_LIST_LOCATIONS": "s3, file"}
    cfg = load_config(path, environ=env)
    assert (cfg.server.port, cfg.server.list_locations) == (9100, ("s3", "file"))
    with pytest.raises(ConfigError, match="KEIBI_SERVER_PORT must be a port number"):
        load_config(path, environ={"KEIBI_SERVER_PORT": "http"})
