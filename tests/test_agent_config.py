"""Agent settings: typed, loadable from TOML, refused with a clear message when wrong."""

from __future__ import annotations

import pytest
from aego.agent import AgentConfig

from aego.errors import UsageError


def test_from_toml(tmp_path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[agent]\nperiod = 0.03\nhidden = [32, 32]\ndelay = "co-explorer"\n', encoding="utf-8")
    config = AgentConfig.from_toml(path)
    assert config.period == 0.03 and config.hidden == (32, 32) and config.delay == "co-explorer"
    assert AgentConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("table, words", [
    ({"perod": 0.1}, "unknown agent setting 'perod'"),
    ({"period": -1}, "'period' must be a positive number"),
    ({"delay": "gamma"}, "'delay' must be"),
    ({"delay_min": 5.0, "delay_max": 4.0}, "delay_min"),
    ({"learner": "gpu"}, "'learner'"),
])
def test_bad_settings_are_named(table, words) -> None:
    with pytest.raises(UsageError, match=words):
        AgentConfig.from_dict(table)


def test_unreadable_toml(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[agent\nperiod = ", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid TOML"):
        AgentConfig.from_toml(path)
    with pytest.raises(UsageError, match="cannot read"):
        AgentConfig.from_toml(tmp_path / "missing.toml")
