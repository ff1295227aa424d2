"""Argument parsing of `kubectl modelops`: kubectl-like global flags, before or after it."""

from __future__ import annotations

import pytest

from modelops.cli.main import build_parser, main


@pytest.mark.parametrize("argv", [
    ["-n", "x", "--context", "c", "status", "m"],
    ["status", "m", "-n", "x", "--context", "c"],
    ["--namespace=x", "status", "--context=c", "m"],
])
def test_global_flags_go_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.command, args.model, args.namespace, args.context) == ("status", "m", "x", "c")


def test_command_flags() -> None:
    p = build_parser()
    assert p.parse_args(["promote", "m", "--full"]).full is True
    assert p.parse_args(["rollback", "m", "--to", "3"]).to == "3"
    args = p.parse_args(["compare", "m", "1", "2", "-o", "yaml"])
    assert (args.v1, args.v2, args.output) == ("1", "2", "yaml")
    args = p.parse_args(["list", "-A", "-w", "--interval", "0.5"])
    assert (args.all_namespaces, args.watch, args.interval) == (True, True, 0.5)


@pytest.mark.parametrize("argv", [
    ["rollback", "m"],  # --to is required
    ["status"],  # MODEL is required
    ["history", "m", "-w"],  # only list and status watch
    ["status", "m", "-o", "table"],
    ["status", "m", "-A"],  # -A is for list
    ["status", "m", "-w", "-o", "json"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "usage: kubectl modelops" in capsys.readouterr().err
