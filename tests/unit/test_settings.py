from __future__ import annotations

import pytest

from reelgate.errors import SettingsError
from reelgate.settings import Settings


def test_lease_must_cover_three_heartbeats() -> None:
    with pytest.raises(SettingsError, match="at least 3 x REELGATE_HEARTBEAT_SECONDS"):
        Settings(lease_seconds=10, heartbeat_seconds=5).validate_for_start()
    Settings(lease_seconds=15, heartbeat_seconds=5).validate_for_start()


def test_outbound_allow_parses_hosts_and_blocks() -> None:
    hosts, nets = Settings(outbound_allow="localhost, 127.0.0.0/8,::1").outbound_allow_rules()
    assert hosts == {"localhost"}
    assert [str(n) for n in nets] == ["127.0.0.0/8", "::1/128"]


def test_outbound_allow_rejects_a_bad_block() -> None:
    with pytest.raises(SettingsError, match="not a valid CIDR"):
        Settings(outbound_allow="10.0.0.0/99").validate_for_start()


def test_defaults_live_in_the_data_dir() -> None:
    settings = Settings(data_dir="/srv/rg")
    assert settings.resolved_database_url == "sqlite:////srv/rg/reelgate.db"
    assert settings.resolved_storage_url == "file:///srv/rg/blobs"
