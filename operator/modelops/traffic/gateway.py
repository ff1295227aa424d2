"""Gateway API routing: the user's HTTPRoute; we own the backendRefs of its rules, and add rules
of our own (named `modelops-*`) for requests matched by header or cookie.

A weight, a header route or a mirror counts as in effect only once the gateway has accepted
the route's current generation (its status.parents), never from what we wrote alone.
Mirroring: Gateway API's RequestMirror filter on the stable's backendRef (Standard), or, for
Traefik, which implements no RequestMirror filter, a TraefikService of kind mirroring that the
route names in the stable's place (traffic.traefik; shadow.sync writes it). Stickiness, for
Traefik only: the weights move into a weighted TraefikService with a sticky cookie, which the
route names alone while the canary has a weight (traffic.traefik)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ..api.updatepolicy import GatewayAPIRouting, UpdatePolicySpec
from ..desired import needs_apply, stamp
from ..kube import Kube
from ..resources import Resource
from . import traefik
from .base import (
    Backend,
    RoutedProvider,
    Split,
    Want,
    carried_weight,
    routed_achieved,
    routed_replicas,
)

HTTPROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")
OURS = "modelops-"  # the names of the rules we add
ROOT = {"path": {"type": "PathPrefix", "value": "/"}}  # a rule without matches matches this


def service_ref(b: Backend, weight: int | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": b.service, "port": b.port}
    if weight is not None:
        ref["weight"] = weight
    return ref


def mirroring(s: Split, want: Want) -> bool:
    """Whether the route mirrors now: only to a ready comparer comparing with a ready canary."""
    return bool(want.mirror and want.shadow and s.stable and s.canary and s.ready_canary > 0
                and s.ready_shadow > 0)


def names_mirror(route: dict[str, Any], sticky: dict[str, Any] | None = None) -> bool:
    """Whether a route mirrors anywhere: a RequestMirror filter, or Traefik's mirror (named
    by the route or by its sticky TraefikService)."""
    return traefik.names_mirror(route, sticky) or any(
        f.get("type") == "RequestMirror"
        for rule in (route.get("spec") or {}).get("rules") or []
        for ref in rule.get("backendRefs") or [] for f in ref.get("filters") or [])


def weighted_refs(route: dict[str, Any], s: Split, want: Want,
                  weight: int) -> list[dict[str, Any]]:
    """The versions' backendRefs carrying `weight` to the canary (and the mirror)."""
    refs = []
    if s.stable:
        ref = service_ref(s.stable, 100 - weight if s.canary else 100)
        if mirroring(s, want) and want.shadow is not None:
            if want.implementation == "Traefik":
                if want.mirror_written or traefik.names_mirror(route, s.sticky):  # (named: there)
                    ref = {**traefik.service_ref(traefik.mirror_name(route["metadata"]["name"])),
                           "weight": ref["weight"]}
            else:
                ref["filters"] = [{"type": "RequestMirror", "requestMirror": {
                    "backendRef": service_ref(want.shadow), "percent": want.mirror}}]
        refs.append(ref)
    if s.canary:
        refs.append(service_ref(s.canary, weight if s.stable else 100))
    return refs


def sticks(s: Split, want: Want, weight: int) -> bool:
    """Whether the weights go through the sticky TraefikService now: while the canary has a
    weight (a cookie given before would pin every client to the stable)."""
    return bool(want.sticky and s.stable and s.canary and weight > 0)


def backend_refs(route: dict[str, Any], s: Split, want: Want,
                 weight: int) -> list[dict[str, Any]]:
    """What the route's own rules name: the weighted refs, or the sticky TraefikService that
    carries them once Traefik has had it a while with these weights (once named, it stays
    named while the weights change inside it). Until then the canary gets no weight: a client
    sent to it without a cookie could be sent elsewhere once the cookies begin."""
    refs = weighted_refs(route, s, want, weight)
    if not sticks(s, want, weight):
        return refs
    name = traefik.sticky_name(route["metadata"]["name"])
    if name in traefik.named(route) or (traefik.settled(s.sticky, s.at) and traefik.members(
            s.sticky) == traefik.refs_members(refs)):
        return [traefik.service_ref(name)]
    return weighted_refs(route, s, want, 0)


def header_matches(matches: tuple[Any, ...]) -> list[dict[str, Any]]:
    """setHeaderRoute's matches as HTTPRoute header matches; a cookie is a regular expression
    on the Cookie header (Gateway API has no cookie match)."""
    out = []
    for m in matches:
        if m.header_name:
            out.append({"type": "Exact", "name": m.header_name, "value": m.header_value})
        else:
            out.append({"type": "RegularExpression", "name": "Cookie", "value":
                        f"(^|;\\s*){re.escape(m.cookie_name)}={re.escape(m.cookie_value)}(;|$)"})
    return out


def user_rules(route: dict[str, Any]) -> list[dict[str, Any]]:
    rules = (route.get("spec") or {}).get("rules") or [{}]
    return [r for r in rules if not (r.get("name") or "").startswith(OURS)] or [{}]


def desired_rules(route: dict[str, Any], s: Split, want: Want,
                  weight: int) -> list[dict[str, Any]]:
    """The route's rules carrying `weight` (and a mirror) to the canary, followed by a copy of
    each of the user's rules for header-matched requests (more header matches win in Gateway
    API's precedence, for the same path). Header rules and mirrors wait for a ready canary
    pod (and a ready comparer), as a weight does."""
    refs = backend_refs(route, s, want, weight)
    users = user_rules(route)
    out = [{**r, "backendRefs": refs} for r in users]
    if want.headers and s.canary and s.ready_canary > 0:  # never to pods that are not there
        headers = header_matches(want.headers)
        for i, r in enumerate(users):
            out.append({**r, "name": f"{OURS}header-{i}", "backendRefs": [
                service_ref(s.canary, 100)], "matches": [
                {**m, "headers": [*(m.get("headers") or []), *headers]}
                for m in r.get("matches") or [ROOT]]})
    return out


def _norm(rule: dict[str, Any]) -> Any:
    """A rule with the defaults the API server fills in, for comparing ours with what is
    stored."""
    def ref(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r.get("group", ""), r.get("kind", "Service"), r.get("name"), r.get("port"),
                r.get("weight", 1), _json(r.get("filters") or []))

    def match(m: dict[str, Any]) -> tuple[Any, ...]:
        path = {"type": "PathPrefix", "value": "/", **(m.get("path") or {})}
        headers = sorted((h.get("type", "Exact"), h["name"], h["value"])
                         for h in m.get("headers") or [])
        return (_json(path), _json(headers), _json(m.get("queryParams") or []), m.get("method"))

    return (rule.get("name"), tuple(match(m) for m in rule.get("matches") or [ROOT]),
            tuple(ref(r) for r in rule.get("backendRefs") or []), _json(rule.get("filters")))


def _json(x: Any) -> str:
    return json.dumps(x, sort_keys=True)


def same_rules(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    return [_norm(r) for r in have] == [_norm(r) for r in want]


def accepted(route: dict[str, Any] | None) -> bool:
    """Whether a gateway has accepted the route as it is now: its parents' Accepted and
    ResolvedRefs conditions are true for the current generation."""
    if route is None:
        return False
    gen = route["metadata"].get("generation")
    parents = (route.get("status") or {}).get("parents") or []
    conds = [{c["type"]: c for c in p.get("conditions") or []} for p in parents]
    return bool(conds) and all(
        c.get(t, {}).get("status") == "True" and c[t].get("observedGeneration") == gen
        for c in conds for t in ("Accepted", "ResolvedRefs"))


def refusal(route: dict[str, Any] | None) -> str | None:
    """What the gateway says against the route, if it says anything."""
    for p in ((route or {}).get("status") or {}).get("parents") or []:
        for c in p.get("conditions") or []:
            if c.get("status") == "False":
                return f"{c.get('type')}: {c.get('reason')} {c.get('message') or ''}".strip()
    return None


def route_weight(route: dict[str, Any] | None, canary: Backend | None) -> int | None:
    """The canary's weight in the first of the user's rules that names it (None: no route)."""
    if route is None or canary is None:
        return 0 if route is not None else None
    for rule in user_rules(route):
        refs = rule.get("backendRefs") or []
        total = sum(int(r.get("weight", 1)) for r in refs)
        for r in refs:
            if r.get("name") == canary.service and r.get("kind", "Service") == "Service" and total:
                return round(100 * int(r.get("weight", 1)) / total)
    return 0


class GatewayProvider(RoutedProvider[GatewayAPIRouting]):
    name = "gatewayAPI"
    field = "gateway_api"
    route_resource: Resource | None = HTTPROUTES
    watches: tuple[Resource, ...] = (HTTPROUTES, traefik.TRAEFIKSERVICES)

    def route_name(self, spec: UpdatePolicySpec) -> str | None:
        gw = self.config(spec)
        return gw.http_route if gw else None

    def sticky_key(self, spec: UpdatePolicySpec) -> tuple[str, str] | None:
        gw = self.config(spec)
        if gw is None or gw.implementation != "Traefik":
            return None
        return traefik.TRAEFIKSERVICES.kind, traefik.sticky_name(gw.http_route)

    def achieved(self, s: Split) -> int | None:
        if s.route is None or not accepted(s.route):
            return None  # what the gateway does now is not known: the last word stands
        if _sticky_named(s.route):
            if not traefik.settled(s.sticky, s.at):
                return None
            return routed_achieved(s, traefik.share(s.sticky, s.canary.service)
                                   if s.canary else 0)
        return routed_achieved(s, route_weight(s.route, s.canary) or 0)

    def reached(self, s: Split, want: Want, total: int) -> bool:
        if s.route is None or not accepted(s.route):
            return False
        if want.load and s.ready_canary < routed_replicas(total, want.load)[1]:
            return False
        if want.mirror and s.ready_shadow < 1:
            return False
        rules = desired_rules(s.route, s, want, want.weight)
        if sticks(s, want, want.weight) and not (
                _sticky_named({**s.route, "spec": {"rules": rules}})
                and traefik.settled(s.sticky, s.at) and traefik.members(s.sticky)
                == traefik.refs_members(weighted_refs(s.route, s, want, want.weight))):
            return False  # the weight is not in the (named, applied) sticky service yet
        return same_rules(s.route["spec"].get("rules") or [], rules)

    def waiting_for(self, s: Split) -> str | None:
        if s.route is None:
            return "the HTTPRoute does not exist"
        if not accepted(s.route):
            why = refusal(s.route)
            return ("its gateway to accept the HTTPRoute" + (f" ({why})" if why else
                                                              ": no gateway has said so yet"))
        return None

    def released(self, s: Split, leaving: Backend | None, total: int) -> bool:
        """The gateway accepted a route that names the leaving version nowhere."""
        if leaving is None or s.route is None:
            return True
        if _sticky_named(s.route) and (not traefik.settled(s.sticky, s.at) or any(
                name == leaving.service for _, name, _ in traefik.members(s.sticky))):
            return False
        return accepted(s.route) and all(
            ref.get("name") != leaving.service
            for rule in s.route["spec"].get("rules") or [] for ref in rule.get("backendRefs") or [])

    def mirror_released(self, s: Split) -> bool:
        """The gateway accepted a route that mirrors nowhere: the comparer may go."""
        return s.route is None or (accepted(s.route) and not names_mirror(s.route, s.sticky))

    def recheck_in(self, s: Split) -> float | None:
        """A sticky TraefikService's weights count, and one no longer named goes, a while
        after the write (traffic.traefik): nothing else says when."""
        if s.sticky is None:
            return None
        waits = [t for t in (traefik.unsettled_for(s.sticky, s.at),
                             traefik.unsettled_for(s.route, s.at)) if t is not None]
        return min(waits) + 0.2 if waits else None

    async def set_route(self, kube: Kube, up: dict[str, Any], spec: UpdatePolicySpec,
                        s: Split, want: Want) -> list[dict[str, Any]]:
        if s.route is None or not (s.stable or s.canary):
            return []  # nothing serves yet: a route without backends would answer 500
        meta, at = s.route["metadata"], s.at or datetime.now(UTC)
        weight = carried_weight(s, want.weight, spec.replicas)
        written = []
        gw = self.config(spec)
        if sticks(s, want, weight) and gw and gw.session_affinity:  # before the route names it
            ts = stamp(traefik.sticky_service(up, spec.model, meta["name"], weighted_refs(
                s.route, s, want, weight), gw.session_affinity))
            if needs_apply(ts, s.sticky):
                written.append(await kube.apply(traefik.stamped(ts, at),
                                                res=traefik.TRAEFIKSERVICES))
        rules = desired_rules(s.route, s, want, weight)
        if not same_rules(s.route["spec"].get("rules") or [], rules):
            written.append(await kube.patch(HTTPROUTES, meta["namespace"], meta["name"], {
                **traefik.stamped({}, at), "spec": {"rules": rules}}))
        elif s.sticky is not None and not _sticky_named(s.route) and not sticks(
                s, want, weight) and accepted(s.route) and traefik.settled(s.route, at):
            # The gateway has applied a route without it a while ago: nothing can reach it.
            await kube.delete(traefik.TRAEFIKSERVICES, meta["namespace"],
                              traefik.sticky_name(meta["name"]))
        return written


def _sticky_named(route: dict[str, Any]) -> bool:
    return traefik.sticky_name(route["metadata"]["name"]) in traefik.named(route)
