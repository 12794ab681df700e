"""What every group of settings shares: its base class, limits and small parsers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

MIB = 1024 * 1024
# HS256 keys shorter than the hash output (32 bytes) are brute-forceable (RFC 7518 3.2).
MIN_SECRET_BYTES = 32


class Group(BaseModel):
    """One concern's settings. Each field's ``validation_alias`` is its environment
    variable; ``Settings`` (settings.py) reads the environment by those names, and a group
    may also be built by its field names (``DatabaseConfig(url="memory://")``)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    def problems(self) -> list[str]:
        """What no command can run with among these settings alone (none by default)."""
        return []


class ConfigurationError(ValueError):
    """Settings no command can run with; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def split_csv(raw: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated value."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def secret_set(value: SecretStr | None) -> bool:
    """True when ``value`` holds more than blanks."""
    return value is not None and bool(value.get_secret_value().strip())


def short(secret: SecretStr) -> bool:
    """True when ``secret`` is too short to key an HMAC."""
    return len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES
