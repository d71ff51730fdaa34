"""The live config's [api] section: defaults, and one line per bad field."""

from __future__ import annotations

import pytest

from live.config import ApiSettings, parse
from scenarios.config import ConfigError
from tests.live.test_config import doc


def test_defaults_listen_on_loopback_with_limits():
    api = parse(doc()).api
    assert api == ApiSettings()
    assert (api.host, api.port, api.cors_origins, api.enabled) == ("127.0.0.1", 8080, (), True)
    assert api.url == "http://127.0.0.1:8080"


def test_every_field_is_read():
    got = parse(doc(api__host="::1", api__port=9000, api__cors_origins=["https://a.example/"],
                    api__max_body_bytes=1024, api__quotes_per_minute_principal=5,
                    api__quotes_per_minute_address=50, api__session_ttl_seconds=600,
                    api__challenge_ttl_seconds=60, api__signin_domain="My app",
                    api__ready_price_age_seconds=120, api__ready_onchain_age_blocks=3,
                    api__ready_min_signer_ustx=5, api__ready_outbox_age_seconds=60,
                    api__enabled=False)).api  # fmt: skip
    assert got == ApiSettings(False, "::1", 9000, ("https://a.example",), 1024, 5, 50, 600.0,
                              60.0, "My app", 120.0, 3, 5, 60.0)  # fmt: skip
    assert got.url == "http://[::1]:9000"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"api__port": 70000}, "api.port: 70000 is out of range; allowed: an integer from 0 to 6"),
        ({"api__port": "80"}, "api.port: '80' is not valid; allowed: an integer"),
        ({"api__host": "example.com"}, "api.host: 'example.com' is not valid; allowed: an IP"),
        (
            {"api__cors_origins": "https://a"},
            "api.cors_origins: 'https://a' is not valid; allowed: a list",
        ),
        (
            {"api__cors_origins": ["https://a/path"]},
            "api.cors_origins: 'https://a/path' is not valid",
        ),
        ({"api__cors_origins": ["*"]}, "api.cors_origins: '*' is not valid; allowed: origins"),
        (
            {"api__max_body_bytes": 10},
            "api.max_body_bytes: 10 is out of range; allowed: an integer from 256",
        ),
        (
            {"api__quotes_per_minute_principal": 0},
            "api.quotes_per_minute_principal: 0 is out of range",
        ),
        (
            {"api__quotes_per_minute_address": 1.5},
            "api.quotes_per_minute_address: 1.5 is not valid",
        ),
        (
            {"api__session_ttl_seconds": 5},
            "api.session_ttl_seconds: 5 is out of range; allowed: a number from 60",
        ),
        ({"api__challenge_ttl_seconds": 0}, "api.challenge_ttl_seconds: 0 is out of range"),
        (
            {"api__signin_domain": "é"},
            "api.signin_domain: 'é' is not valid; allowed: up to 64 ASCII",
        ),
        ({"api__ready_price_age_seconds": 0}, "api.ready_price_age_seconds: 0 is out of range"),
        ({"api__ready_onchain_age_blocks": 0}, "api.ready_onchain_age_blocks: 0 is out of range"),
        ({"api__ready_min_signer_ustx": -1}, "api.ready_min_signer_ustx: -1 is out of range"),
        ({"api__ready_outbox_age_seconds": 0}, "api.ready_outbox_age_seconds: 0 is out of range"),
        ({"api__enabled": "yes"}, "api.enabled: 'yes' is not valid; allowed: true or false"),
        ({"api__colour": 1}, "api.colour: unknown field; allowed: challenge_ttl_seconds"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(patch, message):
    with pytest.raises(ConfigError) as err:
        parse(doc(**patch))
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_risk_defaults_and_fields():
    from live.config import RiskSettings

    assert parse(doc()).risk == RiskSettings()
    got = parse(doc(risk__every_blocks=3, risk__paths=100, risk__horizon_days=7, risk__seed=9,
                    risk__breaker_ruin_upper=False, risk__enabled=False)).risk  # fmt: skip
    assert got == RiskSettings(False, 3, 100, 7, 9, None)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"risk__every_blocks": 0},
            "risk.every_blocks: 0 is out of range; allowed: an integer from 1",
        ),
        ({"risk__paths": 10}, "risk.paths: 10 is out of range; allowed: an integer from 100"),
        ({"risk__horizon_days": 400}, "risk.horizon_days: 400 is out of range"),
        (
            {"risk__breaker_ruin_upper": 2},
            "risk.breaker_ruin_upper: 2 is out of range; allowed: a number from 0 to 1",
        ),
        ({"risk__breaker_ruin_upper": True}, "risk.breaker_ruin_upper: True is not valid"),
        ({"risk__enabled": 1}, "risk.enabled: 1 is not valid; allowed: true or false"),
        ({"risk__colour": 1}, "risk.colour: unknown field; allowed: breaker_ruin_upper"),
    ],
)
def test_a_bad_risk_field_is_one_line(patch, message):
    with pytest.raises(ConfigError) as err:
        parse(doc(**patch))
    assert str(err.value).startswith(message), str(err.value)


def test_every_metric_the_ops_files_use_is_exported():
    """The alert rules and the dashboard name only metrics the engine exports."""
    import json
    import re
    from pathlib import Path

    from live.metrics import Metrics

    root = Path(__file__).resolve().parents[2] / "ops"
    exported = set()
    for family in Metrics().registry.collect():
        exported |= {s.name for s in family.samples} | {family.name}
        if family.type == "counter":  # a labelled counter has no sample until first counted
            exported.add(family.name + "_total")
    exported |= {f"{n}_bucket" for n in exported}
    text = (root / "prometheus-alerts.yml").read_text()
    text += json.dumps(json.loads((root / "grafana-dashboard.json").read_text()))
    used = set(re.findall(r"\bbithedge_[a-z_]+", text))
    used -= {"bithedge_engine"}  # the dashboard's uid
    assert used and used <= exported, used - exported
