"""One validated settings object, read once at the entry points and passed down."""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting can be given as an environment variable `ASSISTANT_<NAME>` or in `.env`."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Chroma (embedded), registry, caches, feedback, audit log, reports.")
    corpus_dir: Path = Field(Path("corpus"), description="Where the manifest and the copied documents are.")
    embedding_model: str = Field(
        "models/multilingual-e5-small",
        description="Local sentence-transformers folder or hub id of an E5-family model.",
    )
    embedding_backend: str = Field("onnx", description="onnx (ONNX Runtime, exported at set-up) or torch; onnx falls back to torch when the export is missing.")
    offline: bool = Field(True, description="Sets HF_HUB_OFFLINE=1; set false to load a hub id.")
    chroma_url: str = Field("", description="When set, use this Chroma server (HttpClient) instead of the embedded store.")
    llm_base_url: str = Field("", description="OpenAI-compatible endpoint for the optional generative mode.")
    llm_model: str = Field("", description="Model name at that endpoint.")
    llm_api_key: str = Field("", description="API key for that endpoint (may be empty for local servers).")
    admin_identities: str = Field("", description="With an identity provider (.streamlit/secrets.toml [auth]): e-mail addresses or subject ids of admins, comma-separated.")
    admin_group: str = Field("", description="With an identity provider: members of this group are admins.")
    admin_group_claim: str = Field("groups", description="The identity token claim that lists the user's groups.")
    admin_password_hash: str = Field("", description="Admin pages are disabled when empty; see `python -m assistant hash-password`.")
    chunk_max_chars: int = Field(1400, description="Longest chunk in characters (e5 reads ~512 tokens, about 1,500 German characters).")
    max_question_chars: int = Field(4000, description="Longer questions are refused with a message.")
    max_upload_mb: int = Field(50, description="Larger document files are refused (upload and `ingest add`).")
    retention_days: int = Field(180, description="Feedback and audit entries older than this are purged.")

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.sqlite"

    @property
    def embedding_cache_path(self) -> Path:
        return self.data_dir / "embedding-cache.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "writer.lock"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def apply_environment(self) -> None:
        """Keep hub libraries from reaching the network unless explicitly allowed."""
        if self.offline:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
