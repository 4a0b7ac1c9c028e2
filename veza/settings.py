"""Settings: config/default.toml, then config/<VEZA_ENV>.toml, then the environment.

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"

# Secrets that production must be given; development invents them.
OWASP_TIME_COST, OWASP_MEMORY_KIB = 2, 19 * 1024  # argon2id, p=1
SECRETS = ("jwt_secret", "rtmp_callback_secret", "signing_secret", "hyperswitch_webhook_secret", "metrics_token")
STRIPE_SECRETS = ("stripe_secret_key", "stripe_webhook_secret")  # production needs them with CONNECT_GATEWAY=stripe


class ConfigError(Exception):
    """Start-up cannot go on; the message is one line for the operator."""


def current_env() -> str:
    return os.environ.get("VEZA_ENV", "development")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    env: str = Field("development", validation_alias=AliasChoices("VEZA_ENV", "env"))
    host: str = "0.0.0.0"
    port: int = 8080
    public_url: str = "http://localhost:8080"

    database_url: str = "postgresql://postgres@127.0.0.1:5432/veza"
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_connect_timeout: float = 3.0  # seconds to open a connection, or to wait for a free one in the pool
    db_statement_timeout: float = 5.0  # PostgreSQL cancels a statement that runs longer
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_connect_timeout: float = 2.0
    # How long a job stays claimed after its worker last renewed the claim (every third of it, while
    # the job runs): a worker killed mid-job has its jobs run again this long after, not after the
    # longest job's timeout.
    worker_job_lease: float = Field(30.0, ge=1)
    redis_timeout: float = 3.0  # a command without an answer by then fails (a frozen server)
    # Certificate check for rediss:// URLs; "none" for Heroku Redis, whose certificates are self-signed.
    redis_ssl_cert_reqs: Literal["required", "optional", "none"] = "required"

    jwt_secret: str | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "veza"
    jwt_audience: str = "veza-api"
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600
    session_cache_seconds: int = Field(30, ge=1)  # how long Redis may vouch for a live session
    refresh_reuse_grace_seconds: float = Field(5.0, ge=0)  # a refresh token just used may be used again (tabs)
    # argon2id cost; production refuses less than OWASP's m=19 MiB, t=2 (config/test.toml lowers it).
    password_hash_time_cost: int = Field(OWASP_TIME_COST, ge=1)
    password_hash_memory_kib: int = Field(OWASP_MEMORY_KIB, ge=8)

    rtmp_callback_secret: str | None = None
    rtmp_public_url: str = "rtmp://localhost:1935/live"  # what streamers point OBS/ffmpeg at
    rtmp_health_host: str = "127.0.0.1"  # where /live/health checks that the RTMP server answers
    rtmp_health_port: int = 1935
    rtmp_health_timeout: float = 1.0
    rtmp_heartbeat_timeout: float = Field(30.0, gt=0)  # seconds without on_update before a live stream is ended
    signing_secret: str | None = None
    hyperswitch_webhook_secret: str | None = None
    metrics_token: str | None = None  # bearer token for /metrics and /health/deep's details (monitoring)

    cors_origins: list[str] = []
    trust_proxy: bool = False  # behind a router that appends the client to X-Forwarded-For (Heroku)
    admin_password: str | None = Field(None, validation_alias=AliasChoices("VEZA_ADMIN_PASSWORD", "admin_password"))
    max_body_bytes: int = 1024 * 1024
    health_check_timeout: float = 2.0
    log_level: str = "INFO"
    access_log: bool = True
    uvloop: bool = True  # the web process and the worker run on uvloop; false: asyncio's loop (README: UVLOOP)
    body_idle_timeout: float = Field(5.0, gt=0)  # seconds a request body may go without a byte (408 past it)
    # Concurrent connections from one TCP peer (behind a proxy: the proxy's address); 0 means no cap.
    max_connections_per_address: int = Field(200, ge=0)
    # Bind with SO_REUSEPORT, so that several `veza serve` processes share one port (the kernel spreads connections).
    reuse_port: bool = False

    ws_max_sockets_per_client: int = Field(50, ge=1)  # open WebSockets per client address
    ws_max_channels_per_socket: int = Field(100, ge=1)

    data_dir: Path = Path(".data")
    # `make run` starts embedded PostgreSQL and Redis even when servers answer (VEZA_EMBEDDED=1).
    embedded: bool = Field(False, validation_alias=AliasChoices("VEZA_EMBEDDED", "embedded"))
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str = "veza"
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None  # for S3-compatible services (MinIO, R2, moto in tests)
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_connect_timeout: float = 3.0
    s3_read_timeout: float = 10.0  # the longest wait for the next bytes of an answer
    s3_max_attempts: int = Field(2, ge=1)  # the first try included
    upload_max_bytes: int = 2 * 1024**3
    user_quota_bytes: int = 5 * 1024**3
    # Blobs that no row names are deleted once this old: an upload writes its blob before its row.
    storage_orphan_grace_seconds: int = Field(24 * 3600, ge=3600)

    payment_gateway: Literal["sandbox", "hyperswitch"] = "sandbox"  # who takes the buyers' payments
    connect_gateway: Literal["sandbox", "stripe"] = "sandbox"  # who pays the sellers out (Stripe Connect)
    hyperswitch_base_url: str = "https://sandbox.hyperswitch.io"
    hyperswitch_api_key: str | None = None
    stripe_secret_key: str | None = None  # CONNECT_GATEWAY=stripe: the platform's secret key (sk_...)
    stripe_webhook_secret: str | None = None  # the signing secret of the Stripe webhook endpoint (whsec_...)
    stripe_api_base: str = "https://api.stripe.com"
    gateway_connect_timeout: float = 3.0  # payment gateways (Hyperswitch, Stripe)
    gateway_timeout: float = 10.0  # a whole call to a payment gateway
    catalog_cache_seconds: float = 5.0  # how stale a catalog page may be in another web process
    platform_fee_rate: float = Field(0.10, ge=0, lt=1)
    # The sandbox gateway's webhook deliveries: the first retry waits this long, each next one twice
    # as long (at most SANDBOX_WEBHOOK_MAX_DELAY seconds), like Hyperswitch's own retries.
    sandbox_webhook_retry_seconds: float = Field(1.0, gt=0)
    transfer_retry_enabled: bool = True
    # A failed transfer (or reversal) is tried again after this many seconds, twice as long after each failure.
    transfer_retry_base_seconds: float = Field(60.0, gt=0)

    # Names of the secrets invented at start-up (development only).
    generated_secrets: tuple[str, ...] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = [CONFIG_DIR / "default.toml", CONFIG_DIR / f"{current_env()}.toml"]
        toml = TomlConfigSettingsSource(settings_cls, toml_file=[f for f in files if f.exists()])
        return (init_settings, env_settings, toml)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def stripe_connect_enabled(self) -> bool:
        return self.connect_gateway == "stripe"


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for the processes it starts (`veza dev`)."""
    return dict(os.environ)


def load_settings(**overrides) -> Settings:
    """Read the settings and fill in or refuse missing secrets.

    Raises ConfigError for an invalid value, or a missing secret in production.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    if settings.is_production and (
        settings.password_hash_time_cost < OWASP_TIME_COST or settings.password_hash_memory_kib < OWASP_MEMORY_KIB
    ):
        raise ConfigError(
            f"PASSWORD_HASH_TIME_COST and PASSWORD_HASH_MEMORY_KIB may not be below {OWASP_TIME_COST} "
            f"and {OWASP_MEMORY_KIB} (OWASP's argon2id parameters) in production"
        )
    missing = [name for name in SECRETS if not getattr(settings, name)]
    if settings.is_production:
        # Stripe's keys cannot be invented: outside production StripeConnect.from_settings asks for the key.
        stripe = STRIPE_SECRETS if settings.stripe_connect_enabled else ()
        missing += [name for name in stripe if not getattr(settings, name)]
    if not missing:
        return settings
    if settings.is_production:
        names = ", ".join(name.upper() for name in missing)
        raise ConfigError(f"missing required secret(s) in production: {names}")
    log.warning(
        "%s not set: using random values, so tokens and links do not survive a restart",
        ", ".join(name.upper() for name in missing),
    )
    generated = {name: secrets.token_urlsafe(48) for name in missing}
    return settings.model_copy(update={**generated, "generated_secrets": tuple(missing)})
