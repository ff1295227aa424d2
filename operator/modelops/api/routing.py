"""Steps and settings that need a route rather than replica counts: requests matched by header
or cookie, mirrored requests, and how a mirrored answer is compared with the stable's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ApiModel, cel, validations

# RFC 7230 token characters: what an HTTP header or cookie name may hold.
TOKEN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"


class HeaderMatch(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel("has(self.headerName) == has(self.headerValue) && "
            "has(self.cookieName) == has(self.cookieValue) && "
            "has(self.headerName) != has(self.cookieName)",
            "a match is either headerName with headerValue, or cookieName with cookieValue"),
        cel("!has(self.headerName) || self.headerName.lowerAscii() != 'cookie'",
            "match a cookie with cookieName and cookieValue, not the Cookie header"),
    )}

    header_name: str | None = Field(None, description="An HTTP header that must be present "
                                    "with headerValue.", pattern=TOKEN, max_length=256)
    header_value: str | None = Field(None, description="The header's exact value.",
                                     max_length=4096)
    cookie_name: str | None = Field(None, description="A cookie that must be sent with "
                                    "cookieValue.", pattern=TOKEN, max_length=256)
    cookie_value: str | None = Field(None, description="The cookie's exact value.",
                                     pattern=r"^[A-Za-z0-9!#$%&'()*+\-./:<=>?@\[\]^_`{|}~]*$",
                                     max_length=1024)


class SetHeaderRoute(ApiModel):
    match: list[HeaderMatch] = Field(
        default_factory=list, max_length=8,
        description="Requests matching all of these go to the canary, whatever the weight, "
        "until the rollout ends; an empty list takes the header route away.")


class SetMirror(ApiModel):
    percent: int = Field(ge=0, le=100, description="Percent of the stable's requests copied "
                         "to the canary (its answers never reach clients; they are compared "
                         "with the stable's); 0 stops mirroring.")


class Shadow(ApiModel):
    """How the comparer judges a mirrored request: it sends the request to both versions and
    compares their answers (docs/traffic.md)."""

    answer: str | None = Field(
        None, description="The part of a JSON answer compared, as a dotted path with `*` for "
        "every list item (e.g. `outputs.*.data`). Default by runtime: the text of `choices` "
        "for OpenAI-style servers (vllm, llamacpp), `outputs.*.data` for the Open Inference "
        "Protocol (custom, triton), the whole answer otherwise.", max_length=256,
        pattern=r"^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+)*$")
    token_overlap: float | None = Field(
        None, gt=0, le=1, description="Answers agree when the share of words they have in "
        "common (Jaccard) is at least this; absent: they agree only when equal. For LLMs.")
    timeout_seconds: float = Field(10, gt=0, le=300, description="How long the comparer "
                                   "waits for each version's answer.")


class SessionAffinity(ApiModel):
    """During weighted steps a client keeps the version it was first given: the gateway sets a
    cookie naming that version's backend and honours it while the version takes traffic
    (docs/traffic.md). A client without the cookie is assigned by the weights."""

    cookie_name: str = Field(description="The cookie the gateway sets and reads.",
                             pattern=TOKEN, max_length=256)
    max_age_seconds: int | None = Field(
        None, ge=1, le=31_536_000, description="How long a client keeps its version; absent: "
        "until its browser session ends. The cookie outlives no rollout: once the rollout "
        "ends, aborts or rolls back, every client goes to the stable.")


Implementation = Literal["Standard", "Traefik"]
