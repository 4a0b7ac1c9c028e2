import subprocess
import sys

import pytest

from veza.settings import ConfigError, Settings, load_settings


def test_toml_layers_then_environment(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert Settings().redis_url == "redis://127.0.0.1:6379/15"  # config/test.toml over default.toml
    assert Settings().jwt_issuer == "veza"  # from config/default.toml
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("CORS_ORIGINS", '["https://a.test"]')
    settings = Settings()
    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert settings.port == 9000
    assert settings.cors_origins == ["https://a.test"]


def test_development_invents_missing_secrets_with_a_warning(monkeypatch, caplog):
    monkeypatch.delenv("JWT_SECRET", raising=False)
    settings = load_settings()
    assert len(settings.jwt_secret) >= 32
    assert "jwt_secret" in settings.generated_secrets
    assert load_settings().jwt_secret != settings.jwt_secret
    assert any("JWT_SECRET" in r.getMessage() for r in caplog.records)


def test_given_secrets_are_kept(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    settings = load_settings()
    assert settings.jwt_secret == "s" * 40
    assert "jwt_secret" not in settings.generated_secrets


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.setenv("VEZA_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings()


def test_production_requires_a_metrics_token(monkeypatch):
    monkeypatch.setenv("VEZA_ENV", "production")
    for name in ("JWT_SECRET", "RTMP_CALLBACK_SECRET", "SIGNING_SECRET", "HYPERSWITCH_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "s" * 40)
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"missing required secret\(s\) in production: METRICS_TOKEN$"):
        load_settings()
    monkeypatch.setenv("METRICS_TOKEN", "m" * 40)
    assert load_settings().metrics_token == "m" * 40


@pytest.mark.slow
def test_production_start_up_stops_with_one_line(monkeypatch):
    env = {"VEZA_ENV": "production", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "veza", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("veza: missing required secret(s) in production: JWT_SECRET")


def test_invalid_setting_is_refused(monkeypatch):
    monkeypatch.setenv("PLATFORM_FEE_RATE", "1.5")
    with pytest.raises(ConfigError, match="PLATFORM_FEE_RATE: Input should be less than 1"):
        load_settings()


def test_production_does_not_cap_connections_per_proxy_address(monkeypatch):
    monkeypatch.setenv("VEZA_ENV", "production")
    monkeypatch.delenv("MAX_CONNECTIONS_PER_ADDRESS", raising=False)
    settings = Settings()
    assert settings.trust_proxy is True
    assert settings.max_connections_per_address == 0
    monkeypatch.setenv("VEZA_ENV", "development")
    assert Settings().max_connections_per_address == 200


def test_passwords_hash_at_owasp_cost_unless_configured_and_never_below_it_in_production(monkeypatch):
    monkeypatch.setenv("VEZA_ENV", "production")
    for name in ("JWT_SECRET", "RTMP_CALLBACK_SECRET", "SIGNING_SECRET", "HYPERSWITCH_WEBHOOK_SECRET", "METRICS_TOKEN"):
        monkeypatch.setenv(name, "s" * 40)
    settings = load_settings()
    assert (settings.password_hash_time_cost, settings.password_hash_memory_kib) == (2, 19 * 1024)
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", "1024")
    with pytest.raises(ConfigError, match="PASSWORD_HASH_MEMORY_KIB may not be below"):
        load_settings()


def test_payments_and_payouts_have_their_own_gateway_settings(monkeypatch):
    monkeypatch.setenv("CONNECT_GATEWAY", "stripe")
    settings = load_settings()
    assert (settings.payment_gateway, settings.connect_gateway, settings.stripe_connect_enabled) == (
        "sandbox",
        "stripe",
        True,
    )
    monkeypatch.setenv("PAYMENT_GATEWAY", "stripe")  # Stripe pays sellers out; it does not take payments here
    with pytest.raises(ConfigError, match="PAYMENT_GATEWAY"):
        load_settings()
