"""The one cache of what the operator watches: what is kept of each kind, where it is filed,
which events are only the echo of our own writes, and what is forgotten.

Nothing here is the truth about an object (that lives in the API server); it saves requests
and reconciles. Three kinds of note sit beside the indexes the watches fill:
- `written`: the status we last wrote to a ModelVersion or UpdatePolicy, newer than the
  watch until the event of that write arrives (then it is dropped);
- `applied`: a child or route as the API server answered our last write, newer than the watch
  until that object's next event;
- `seen`: what the last event of each object looked like in the parts a reconcile reads, so
  that an event changing none of them is no news.
Which parts are kept and read per kind is the `Rule` each kind is registered with
(handlers.filing); this module knows no kind.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .indexes import STATUS_READ, Indexes, child, first

Entry = tuple[str, Hashable, Any]  # (index name, key, value)


@dataclass(frozen=True)
class Rule:
    keep: Callable[[Mapping[str, Any]], dict[str, Any]]  # the form kept in memory
    entries: Callable[[str | None, dict[str, Any]], Iterator[Entry]]  # where it is filed
    reads: Callable[[dict[str, Any]], Any]  # what a reconcile reads of it (compared, not hashed)
    status_ours: bool = False  # we write its status: an event carrying it back is an echo


@dataclass(frozen=True)
class Filed:
    kept: dict[str, Any]
    news: bool  # False: nothing a reconcile reads has changed (an echo, or noise)


@dataclass
class Cache:
    rules: dict[str, Rule]
    indexes: Indexes = field(default_factory=Indexes)
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> status
    applied: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)  # uid -> what was read

    def file(self, type: str | None, body: Mapping[str, Any]) -> Filed:
        """File a watch event's object (or take it out: DELETED) and say if it is news."""
        kind = body.get("kind") or ""
        rule = self.rules[kind]
        kept = rule.keep(body)
        meta = body["metadata"]
        uid, ns = meta["uid"], meta.get("namespace")
        # The watch has caught up with (or gone past) what our last write answered.
        self.applied.pop((kind, ns or "", meta["name"]), None)
        if type == "DELETED":
            self.indexes.refile(uid, (), present=False)
            self.forget(uid)
            return Filed(kept, True)
        self.indexes.refile(uid, rule.entries(ns, kept))
        if type is None:  # a (re)listing: the truth as of now, newer than any note of ours
            self.written.pop(uid, None)
            self.seen.pop(uid, None)
        reads = rule.reads(kept)
        echo = self.seen.get(uid) == reads
        self.seen[uid] = reads
        if rule.status_ours:
            # Only the event of our own status write is no news; a status someone else
            # wrote, or any other change, is.
            caught_up = uid in self.written and self.written[uid] == kept.get("status")
            if caught_up:
                del self.written[uid]  # from now on the watch knows it as well as we do
            echo = echo and caught_up
        return Filed(kept, not echo)

    def forget(self, uid: str) -> None:
        self.written.pop(uid, None)
        self.seen.pop(uid, None)

    # -- reads that prefer our own fresher notes ----------------------------------------------
    def status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An object's status: the one we wrote last if the watch has not brought it yet."""
        mine = self.written.get(obj["metadata"]["uid"])
        return mine if mine is not None else dict(obj.get("status") or {})

    def wrote(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        self.written[obj["metadata"]["uid"]] = status

    def deployment(self, ns: str, name: str) -> dict[str, Any] | None:
        """One of our Deployments: our last write's answer, else as the watch has it."""
        return self.applied.get(("Deployment", ns, name)) or child(self.indexes.mo_deployments,
                                                                   (ns, name))

    def service(self, ns: str, name: str) -> dict[str, Any] | None:
        """One of our Services, likewise."""
        return self.applied.get(("Service", ns, name)) or child(self.indexes.mo_services,
                                                                (ns, name))

    def route(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        """A traffic provider's route (or what it writes beside it), likewise."""
        return self.applied.get((kind, ns, name)) or child(self.indexes.routes, (kind, ns, name))

    def answered(self, obj: dict[str, Any]) -> None:
        """Keep the API server's answer to our write until the watch brings it."""
        meta = obj["metadata"]
        self.applied[(obj["kind"], meta.get("namespace") or "", meta["name"])] = obj

    def version(self, ns: str, name: str) -> dict[str, Any] | None:
        """A ModelVersion as last seen."""
        return first(self.indexes.mv_by_name, (ns, name))

    def policy(self, ns: str, name: str) -> dict[str, Any] | None:
        """An UpdatePolicy as last seen."""
        return first(self.indexes.up_by_name, (ns, name))

    def objects(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(ModelVersions, UpdatePolicies) as last seen; empty before the first event."""
        idx = self.indexes
        # Called from the metrics server's thread while the event loop changes the indexes:
        # a snapshot that raced a change is simply taken again.
        for _ in range(10):
            try:
                return ([mv for group in list(idx.mv_by_name.values()) for mv in list(group)],
                        [up for group in list(idx.up_by_name.values()) for up in list(group)])
            except (RuntimeError, KeyError):  # changed size, or a key went mid-read
                continue
        return [], []


def child_reads(kept: dict[str, Any]) -> tuple[Any, ...]:
    """What a reconcile reads of a child, from the compact form the indexes keep (its spec
    as JSON text, hashed: holding every child's parsed spec is what compact() avoids)."""
    meta, status = kept["metadata"], kept["status"]
    return (meta.get("uid"), meta.get("generation"), meta.get("labels"), meta.get("annotations"),
            meta.get("ownerReferences"), meta.get("deletionTimestamp"), hash(kept["specJSON"]),
            tuple(status.get(k) for k in STATUS_READ.get(kept.get("kind") or "", ())))
