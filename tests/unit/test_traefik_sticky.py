"""Sticky weights through Traefik (gatewayAPI.sessionAffinity): the weights move into a
weighted TraefikService with a sticky cookie, named by the route only once Traefik has had it
a while, counted only then, and deleted only a while after the gateway accepted a route
without it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.api.updatepolicy import UpdatePolicySpec
from modelops.traffic.base import Backend, Split, Want
from modelops.traffic.gateway import GatewayProvider
from modelops.traffic.traefik import WRITTEN_AT, members, stamped
from tests.unit.test_traffic_providers import Recording

V1, V2 = Backend("1", "m-1", 8080), Backend("2", "m-2", 8080)
SHADOW = Backend("2", "m-shadow", 80)
UP = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
      "metadata": {"name": "m", "namespace": "ns", "uid": "u-1"}}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = UpdatePolicySpec.model_validate({"model": "m", "replicas": 1, "strategy": {"canary": {
    "steps": [{"setWeight": 10}], "trafficRouting": {"gatewayAPI": {
        "httpRoute": "r", "implementation": "Traefik",
        "sessionAffinity": {"cookieName": "version", "maxAgeSeconds": 600}}}}}})
P = GatewayProvider()


def route(*refs: dict[str, Any], generation: int = 1, accepted: bool = True,
          written: datetime | None = None) -> dict[str, Any]:
    conds = [{"type": t, "status": "True", "observedGeneration": generation}
             for t in ("Accepted", "ResolvedRefs")]
    meta: dict[str, Any] = {"name": "r", "namespace": "ns",
                            "generation": generation + (not accepted)}
    out = {"kind": "HTTPRoute", "metadata": meta, "spec": {"rules": [{"backendRefs": list(refs)}]},
           "status": {"parents": [{"conditions": conds}]}}
    return stamped(out, written) if written else out


def svc(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 8080, "weight": weight}


STICKY_REF = {"group": "traefik.io", "kind": "TraefikService", "name": "r-sticky"}


def act(s: Split, want: Want) -> list[tuple[str, Any]]:
    kube = Recording()
    asyncio.run(P.set_route(kube, UP, SPEC, s, want))  # type: ignore[arg-type]
    return kube.calls


def one(what: str, s: Split, want: Want) -> dict[str, Any]:
    """The one call set_route made, which must be `what`; its body."""
    calls = act(s, want)
    assert [c[0] for c in calls] == [what], calls
    return dict(calls[0][1])


def test_the_first_weight_waits_for_the_sticky_service_then_the_route_names_it_alone() -> None:
    want = Want(10, implementation="Traefik", sticky=True)
    plain = route(svc("m-1", 100), svc("m-2", 0))
    # First the TraefikService, with the weights and the cookie; the route gives the canary
    # nothing yet (a client sent there without a cookie could be moved once cookies begin).
    ts = one("apply", Split(V1, V2, 1, 1, plain, at=T0), want)
    assert ts["metadata"]["name"] == "r-sticky"
    assert ts["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert ts["metadata"]["annotations"][WRITTEN_AT] == "2026-01-01T00:00:00Z"
    assert members(ts) == [("Service", "m-1", 90), ("Service", "m-2", 10)]
    assert ts["spec"]["weighted"]["sticky"] == {"cookie": {
        "name": "version", "httpOnly": True, "sameSite": "lax", "maxAge": 600}}
    soon = Split(V1, V2, 1, 1, plain, sticky=ts, at=T0 + timedelta(seconds=2))
    assert act(soon, want) == []  # written, not yet there long enough to be named
    assert P.recheck_in(soon) == 3.2  # nothing but time will say when: the policy looks again
    assert P.achieved(soon) == 0 and not P.reached(soon, want, 1)
    # Then the route names it alone.
    later = Split(V1, V2, 1, 1, plain, sticky=ts, at=T0 + timedelta(seconds=6))
    patch = one("patch", later, want)
    assert patch["spec"]["rules"][0]["backendRefs"] == [STICKY_REF]
    assert WRITTEN_AT in patch["metadata"]["annotations"]
    # Its weight counts from the TraefikService once the gateway accepted the route.
    named = route(STICKY_REF, written=T0 + timedelta(seconds=6))
    now = Split(V1, V2, 1, 1, named, sticky=ts, at=T0 + timedelta(seconds=7))
    assert P.achieved(now) == 10 and P.reached(now, want, 1)
    assert P.achieved(Split(V1, V2, 1, 1, route(STICKY_REF, accepted=False), sticky=ts,
                            at=T0 + timedelta(seconds=7))) is None


def test_a_new_weight_changes_the_service_not_the_route_and_counts_once_applied() -> None:
    ts = stamped({"metadata": {"name": "r-sticky"}, "spec": {"weighted": {"services": [
        {"name": "m-1", "port": 8080, "weight": 90},
        {"name": "m-2", "port": 8080, "weight": 10}]}}}, T0)
    named = route(STICKY_REF, written=T0)
    want = Want(50, implementation="Traefik", sticky=True)
    at = T0 + timedelta(seconds=30)
    new = one("apply", Split(V1, V2, 1, 1, named, sticky=ts, at=at), want)
    assert members(new) == [("Service", "m-1", 50), ("Service", "m-2", 50)]
    fresh = Split(V1, V2, 1, 1, named, sticky=new, at=at + timedelta(seconds=1))
    assert P.achieved(fresh) is None  # Traefik may not have it yet: the last word stands
    assert not P.reached(fresh, want, 1)
    applied = Split(V1, V2, 1, 1, named, sticky=new, at=at + timedelta(seconds=5))
    assert P.achieved(applied) == 50 and P.reached(applied, want, 1)
    assert P.recheck_in(applied) is None
    # Still carrying the stable at 50: the stable may not go yet.
    assert not P.released(applied, V1, 1)


def test_at_the_end_the_route_goes_back_and_the_service_goes_a_while_after() -> None:
    ts = stamped({"metadata": {"name": "r-sticky"}, "spec": {"weighted": {"services": [
        {"name": "m-1", "port": 8080, "weight": 50},
        {"name": "m-2", "port": 8080, "weight": 50}]}}}, T0)
    named = route(STICKY_REF, written=T0)
    aborted = Want(0, implementation="Traefik", sticky=True)
    at = T0 + timedelta(seconds=60)
    patch = one("patch", Split(V1, V2, 1, 1, named, sticky=ts, at=at), aborted)
    assert patch["spec"]["rules"][0]["backendRefs"] == [svc("m-1", 100), svc("m-2", 0)]
    assert not P.released(Split(V1, V2, 1, 1, named, sticky=ts, at=at), V2, 1)
    back = route(svc("m-1", 100), generation=2, written=at)  # the canary is gone from it
    assert P.released(Split(V1, V2, 1, 1, back, sticky=ts, at=at), V2, 1)
    assert act(Split(V1, None, 1, 0, back, sticky=ts, at=at + timedelta(seconds=2)),
               aborted) == []  # not yet: Traefik applies a route a moment after accepting it
    assert act(Split(V1, None, 1, 0, route(svc("m-1", 100), accepted=False, written=at),
                     sticky=ts, at=at + timedelta(seconds=9)),
               aborted) == []  # not while the gateway has not accepted it
    assert act(Split(V1, None, 1, 0, back, sticky=ts, at=at + timedelta(seconds=6)),
               aborted) == [("delete", "r-sticky")]


def test_without_session_affinity_or_a_canary_weight_no_service_is_written() -> None:
    plain = route(svc("m-1", 100), svc("m-2", 0))
    patch = one("patch", Split(V1, V2, 1, 1, plain, at=T0),
                             Want(10, implementation="Traefik"))
    assert patch["spec"]["rules"][0]["backendRefs"] == [svc("m-1", 90), svc("m-2", 10)]
    assert act(Split(V1, V2, 1, 1, plain, at=T0), Want(0, implementation="Traefik",
                                                        sticky=True)) == []
    header = Want(0, headers=(), implementation="Traefik", sticky=True)
    assert act(Split(V1, None, 1, 0, route(svc("m-1", 100)), at=T0), header) == []


def test_a_mirror_goes_inside_the_sticky_service_in_the_stables_place() -> None:
    ts = stamped({"metadata": {"name": "r-sticky"}, "spec": {"weighted": {"services": [
        {"name": "m-1", "port": 8080, "weight": 80},
        {"name": "m-2", "port": 8080, "weight": 20}]}}}, T0)
    named = route(STICKY_REF, written=T0)
    want = Want(20, mirror=50, shadow=SHADOW, implementation="Traefik", sticky=True)
    at = T0 + timedelta(seconds=30)
    new = one("apply", Split(V1, V2, 1, 1, named, 1, sticky=ts, at=at), want)
    assert members(new) == [("TraefikService", "r-mirror", 80), ("Service", "m-2", 20)]
    assert "port" not in new["spec"]["weighted"]["services"][0]
    # The comparer stays while the sticky service mirrors to it.
    assert not P.mirror_released(Split(V1, V2, 1, 1, named, 1, sticky=new, at=at))
    assert P.mirror_released(Split(V1, V2, 1, 1, named, 1, sticky=ts, at=at))
