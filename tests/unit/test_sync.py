"""Where the start-up count looks: the namespaces kopf was told to watch."""

from __future__ import annotations

import pytest

from modelops.handlers.sync import kopf_namespaces, namespace_matches


def test_namespaces_come_from_kopfs_own_options() -> None:
    assert kopf_namespaces(["kopf", "run", "-m", "modelops.handlers", "--all-namespaces"]) == []
    argv = ["kopf", "run", "--namespace", "a", "--namespace=b", "-n", "c", "-nd", "-n=e",
            "--standalone"]
    assert kopf_namespaces(argv) == ["a", "b", "c", "d", "e"]
    assert kopf_namespaces(["kopf", "run", "--namespace"]) == []  # kopf itself refuses that


@pytest.mark.parametrize(("name", "pattern", "matches"), [
    ("myapp-test", "myapp-*, !*-pr-*, *pr-123", True),
    ("myapp-pr-123", "myapp-*, !*-pr-*, *pr-123", True),
    ("myapp-pr-456", "myapp-*, !*-pr-*, *pr-123", False),
    ("otherapp-pr-123", "myapp-*, !*-pr-*, *pr-123", False),
    ("otherapp-pr-123", "!*-pr-*, *pr-123", True),
    ("anyapp", "!*-pr-*", True),
    ("x-pr-1", "!*-pr-*", False),
    ("team-a", "team-?", True),
])
def test_namespace_patterns_follow_kopfs_documented_rules(name: str, pattern: str,
                                                         matches: bool) -> None:
    assert namespace_matches(name, pattern) is matches
