"""When a child the operator owns must be written again. Pure.

Two checks, because each misses what the other sees: every field we set must have our value in
the live object (an outside edit, or a field we changed), and the live object must carry the
hash of what we last wanted (a field we *stopped* setting, e.g. a nodeSelector taken out of the
spec, is still live, and a subset check cannot see it; server-side apply removes it once we
apply without it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .api.quantity import parse_quantity

HASH_ANNOTATION = "modelops.io/desired-hash"


def stamp(want: dict[str, Any]) -> dict[str, Any]:
    """`want` with the hash of its own content in its annotations."""
    meta = dict(want.get("metadata") or {})
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k != HASH_ANNOTATION}
    body = {**want, "metadata": {**meta, "annotations": notes}}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    body["metadata"]["annotations"] = {**notes, HASH_ANNOTATION: digest.hexdigest()[:20]}
    return body


def needs_apply(want: dict[str, Any], have: dict[str, Any] | None) -> bool:
    """For a stamped `want`: whether the live child `have` differs from it."""
    if have is None:
        return True
    ours = ((want.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
    theirs = ((have.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
    return ours != theirs or not is_subset(want, have)


def is_subset(want: Any, have: Any) -> bool:
    """True when every field we set has that value in the live object.

    The API server adds defaults (imagePullPolicy, protocol, ...) that we do not set, and
    normalizes quantities (0.5 -> 500m); neither is a difference worth a write.
    """
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and is_subset(v, have[k])
                                              for k, v in want.items())
    if isinstance(want, list):
        return (isinstance(have, list) and len(want) == len(have)
                and all(is_subset(w, h) for w, h in zip(want, have, strict=True)))
    if want == have:
        return True
    if isinstance(want, (str, int)) and isinstance(have, (str, int)):
        try:
            return parse_quantity(want) == parse_quantity(have)
        except ValueError:
            return False
    return False
