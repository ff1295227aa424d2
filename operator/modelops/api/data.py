"""Data a training or evaluation pod reads at run time, and the record of what it read."""

from __future__ import annotations

from pydantic import Field

from .common import ApiModel

DATA_SCHEMES = ("s3", "gs", "hf", "pvc", "http", "https")


class Dataset(ApiModel):
    """Fetched into the pod (DATA_DIR) by the fetcher before the pod's own container starts, so
    every run reads what is at the location then: a scheduled evaluation reads today's data."""

    uri: str = Field(
        description="Where the data is: a prefix or a file. Schemes: " + ", ".join(DATA_SCHEMES)
        + ". `pvc://CLAIM/PATH` mounts the claim read-only (no digest is taken); other schemes "
        "are fetched, and the digest of what was fetched is recorded.",
        pattern=r"^(" + "|".join(DATA_SCHEMES) + r")://.+", max_length=2048)
    digest: str | None = Field(
        None, description="Optional pin, `sha256:<64 hex>` (computed as for an artifact): a run "
        "whose fetched data differs fails instead of reading it.",
        pattern=r"^sha256:[a-f0-9]{64}$")
    credentials_secret: str | None = Field(
        None, description="A Secret whose keys become the data fetcher's environment "
        "(AWS_ACCESS_KEY_ID...); default: the one the model's fetcher uses.",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)


class DataRead(ApiModel):
    """What a run read: recorded from the fetcher's own report."""

    uri: str = Field(description="The location.")
    digest: str | None = Field(None, description="sha256 of the data fetched (absent for pvc).")
    files: int | None = Field(None, description="Files fetched.")


class ImageRun(ApiModel):
    image: str = Field(description="The image as the spec names it.")
    image_id: str | None = Field(None, alias="imageID",
                                 description="The image the kubelet ran, by digest.")
