"""Keep an UpdatePolicy's ScaledObject as its spec.autoscaling says: applied while it asks
for one, deleted once it does not (status.scaler remembers which, across restarts)."""

from __future__ import annotations

from typing import Any

from ..api.updatepolicy import UpdatePolicySpec
from ..desired import needs_apply, stamp
from ..kube import ApiError
from ..state import State
from .scaledobject import SCALEDOBJECTS, scaled_object


async def sync_scaler(state: State, up: dict[str, Any], spec: UpdatePolicySpec, runtime: str,
                      scaler: str | None) -> tuple[str | None, str | None]:
    """(the ScaledObject the policy owns now, why it has none though it asked for one).

    A scaler that cannot be written never stops the rollout: the API server's answer becomes
    the Autoscaling condition, and the policy looks again later."""
    ns = up["metadata"]["namespace"]
    want = scaled_object(up, spec, runtime)
    if want is None:
        if scaler:
            try:
                await state.kube.delete(SCALEDOBJECTS, ns, scaler)
            except ApiError as e:
                if e.status != 404:  # 404: KEDA gone with its kind, nothing left to delete
                    return scaler, f"the ScaledObject could not be deleted: {e.reason}"
            state.cache.applied.pop(("ScaledObject", ns, scaler), None)
        return None, None
    want = stamp(want)
    name = want["metadata"]["name"]
    if needs_apply(want, state.cache.applied.get(("ScaledObject", ns, name))):
        try:
            state.cache.answered(await state.kube.apply(want, res=SCALEDOBJECTS))
        except ApiError as e:
            if e.status == 404:
                return scaler, ("the cluster does not serve KEDA's ScaledObject "
                                "(keda.sh/v1alpha1): install KEDA (docs/autoscaling.md)")
            return scaler, f"the API server refused the ScaledObject: {e.reason}"
    return name, None
