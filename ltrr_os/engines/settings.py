"""Typed engine settings, shared by query plans, the CLI and the library.

Secrets never live in a plan or on a command line: the settings name the *environment
variables* that hold them (``password_env``), and they are read at connect time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_DATA_DIR_ENV = "LTRR_DATA_DIR"


def default_data_dir() -> Path:
    """``$LTRR_DATA_DIR`` or ``~/.ltrr``: where the embedded engine and models live."""
    env = os.environ.get(DEFAULT_DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".ltrr"


class OpenSearchSettings(BaseModel):
    """How to reach an OpenSearch cluster (opensearch-py client options)."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = Field(
        default_factory=lambda: [os.environ.get("OPENSEARCH_URL", "http://localhost:9200")],
        description="Node URLs; $OPENSEARCH_URL is the default.",
    )
    username_env: str = Field("OPENSEARCH_USERNAME", description="Env var with the user name.")
    password_env: str = Field("OPENSEARCH_PASSWORD", description="Env var with the password.")
    verify_certs: bool = Field(True, description="Verify TLS certificates (keep on).")
    ca_certs: Path | None = Field(None, description="CA bundle to verify the cluster with.")
    client_cert: Path | None = None
    client_key: Path | None = None
    timeout: float = Field(10.0, gt=0, description="Request timeout in seconds.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/503 and timeouts.")

    @field_validator("hosts")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one host is required")
        return v

    def credentials(self) -> tuple[str, str] | None:
        """(user, password) from the environment, or None when unset."""
        user = os.environ.get(self.username_env)
        password = os.environ.get(self.password_env)
        if user and password:
            return user, password
        return None


class EngineSettings(BaseModel):
    """Which engine runs the DSL: ``embedded`` (in-process) or ``opensearch``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embedded", "opensearch"] = "embedded"
    data_dir: Path | None = Field(
        None, description="Embedded indices and local models; default $LTRR_DATA_DIR or ~/.ltrr"
    )
    opensearch: OpenSearchSettings = Field(default_factory=OpenSearchSettings)

    def resolved_data_dir(self) -> Path:
        return (self.data_dir or default_data_dir()).expanduser()
