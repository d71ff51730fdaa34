"""Every field of the live config is checked, with one line naming it and what it accepts."""

from __future__ import annotations

import os
import tomllib

import pytest

from chain.keys import PrivateKey
from live.config import load, parse
from scenarios.config import ConfigError

KEY = PrivateKey.from_seed(b"config-test")
DEPLOYER = PrivateKey.from_seed(b"config-deployer").principal().address

GOOD = f"""
[network]
name = "testnet"

[contracts]
deployer = "{DEPLOYER}"

[keys]
backend = "env:BH_TEST_BACKEND"
quote = "env:BH_TEST_QUOTE"

[oracle]
sources = ["coinbase", "kraken", "bitstamp"]
"""


def doc(**patch) -> dict:
    d = tomllib.loads(GOOD)
    for path, value in patch.items():
        section, _, key = path.partition("__")
        if value is None:
            d[section].pop(key)
        else:
            d.setdefault(section, {})[key] = value
    return d


def test_a_minimal_config_gets_the_documented_defaults():
    c = parse(doc())
    assert c.node_url == "https://api.testnet.hiro.so"
    assert c.contracts.pool.address == f"{DEPLOYER}.liquidity-pool"
    assert c.store_url == "sqlite:///bithedge-live.db"
    assert (c.oracle.quorum, c.oracle.poll_seconds, c.fee, c.resend_blocks) == (3, 60.0, 2000, 10)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"network__name": "regtest"}, "network.name: 'regtest' is not valid; allowed: mainnet"),
        ({"network__url": "ftp://x"}, "network.url: 'ftp://x' is not valid; allowed: an http"),
        ({"network__timeout_seconds": 0}, "network.timeout_seconds: 0 is out of range; allowed: a"),
        ({"network__colour": "red"}, "network.colour: unknown field; allowed: api_key_env"),
        ({"contracts__deployer": "SPnot"}, "contracts.deployer: 'SPnot' is not valid"),
        ({"contracts__deployer": None}, "contracts.deployer: None is not valid"),
        ({"keys__backend": "hex:abcd"}, "keys.backend: 'hex:abcd' is not valid; allowed: env:"),
        ({"oracle__sources": ["coinbase", "ftx"]}, "oracle.sources: 'ftx' is not a source"),
        ({"oracle__sources": []}, "oracle.sources: [] is not valid"),
        ({"oracle__quorum": 4}, "oracle.quorum: 4 is out of range; allowed: an integer from 1 to"),
        ({"oracle__threshold_bps": 2.5}, "oracle.threshold_bps: 2.5 is not valid; allowed: an in"),
        ({"oracle__poll_seconds": True}, "oracle.poll_seconds: True is not valid"),
        ({"oracle__base_urls": {"okx": "http://x"}}, "oracle.base_urls.okx: not in oracle.sou"),
        ({"signer__max_fee": 10}, "signer.max_fee: 10 is out of range; allowed: an integer from 2"),
        ({"engine__block_poll_seconds": -1}, "engine.block_poll_seconds: -1 is out of range"),
    ],
)
def test_each_mistake_is_one_line_naming_the_field(patch, message):
    with pytest.raises(ConfigError) as err:
        parse(doc(**patch))
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_the_network_and_the_address_kind_must_agree():
    with pytest.raises(ConfigError, match=r"contracts.deployer: .* an SP… address for mainnet"):
        parse(doc(network__name="mainnet"))


def test_keys_come_from_the_environment_and_never_show(monkeypatch):
    c = parse(doc())
    with pytest.raises(ConfigError, match=r"keys\.backend: environment variable BH_TEST_BACKEND"):
        c.backend_key.load()
    monkeypatch.setenv("BH_TEST_BACKEND", KEY.secret_hex())
    key = c.backend_key.load()
    assert key.public_key == KEY.public_key
    assert KEY.secret_hex() not in repr(key) + repr(c)
    monkeypatch.setenv("BH_TEST_BACKEND", KEY.secret_hex()[:-2] + "zz")
    with pytest.raises(ConfigError) as err:
        c.backend_key.load()
    assert KEY.secret_hex()[:20] not in str(err.value)


def test_a_key_file_must_be_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "backend.key"
    path.write_text(KEY.secret_hex())
    os.chmod(path, 0o644)
    c = parse(doc(keys__backend=f"file:{path}"))
    readable = r"keys.backend: key file .* is readable by others \(mode 644\)"
    with pytest.raises(ConfigError, match=readable):
        c.backend_key.load()
    os.chmod(path, 0o600)
    assert c.backend_key.load().public_key == KEY.public_key
    missing = parse(doc(keys__backend=f"file:{tmp_path / 'nope'}"))
    with pytest.raises(ConfigError, match=r"keys.backend: key file .* does not exist"):
        missing.backend_key.load()


def test_a_file_that_is_not_toml_is_one_line(tmp_path):
    path = tmp_path / "live.toml"
    path.write_text("[network\nname=")
    with pytest.raises(ConfigError, match=r"--config: .* is not valid TOML"):
        load(path)


def test_a_database_password_never_shows_in_the_config_repr():
    c = parse(doc(store__url="postgresql+psycopg://bithedge:s3cret-pw@127.0.0.1:5432/live"))
    assert c.store_url.endswith("/live")
    assert "s3cret-pw" not in repr(c)
