"""`kubectl modelops`: argument parsing, dispatch to the commands, and errors -> exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from . import actions, bundle, views
from .client import Cluster
from .compare import compare_rows
from .errors import FAILED, NOT_FOUND, OK, CliError
from .lineage import facts, tree
from .summary import group_models, history_rows, model_of, model_summary, watch_failed
from .watch import watch

Model = tuple[list[dict[str, Any]], dict[str, Any] | None]

COMMANDS = {  # name -> help; the order is the order of `--help`
    "list": "the models, their versions and rollout state",
    "status": "one model in detail: versions, weights, steps, analysis, conditions",
    "history": "a model's rollouts, newest first",
    "promote": "end the current canary step (--full: skip to 100%%)",
    "pause": "hold the rollout where it is (spec.paused=true)",
    "resume": "lift a pause: spec.paused, or one the operator took",
    "abort": "move all traffic back to the stable version",
    "retry": "roll out again a version that was rolled back or aborted",
    "rollback": "set targetVersion back to a version that served before",
    "compare": "two versions side by side, differences marked",
    "lineage": "the model's versions as a tree of parents, with the data and images each "
               "was trained and evaluated on, by digest",
    "export": "write the model's versions and policy as a portable YAML bundle",
    "import": "create the objects of a bundle here; never overwrites",
}


def _common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a flag given before the command from being reset by the subparser's
    # default, so `-n x list` and `list -n x` both work, as with kubectl.
    s = argparse.SUPPRESS
    parser.add_argument("-n", "--namespace", default=s, help="namespace (default: the "
                        "kubeconfig context's, else default)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", default=s,
                        help="list: every namespace")
    parser.add_argument("--kubeconfig", default=s, help="kubeconfig file (default: "
                        "$KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", default=s, help="kubeconfig context to use")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl modelops", description="Watch and steer modelops models and rollouts.",
        epilog="Exit codes: 0 ok, 1 refused/failed, 2 usage, 3 not found, 4 cluster "
               "unreachable or no kubeconfig, 5 forbidden/unauthorized.")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmds = {name: sub.add_parser(name, help=text, description=text)
            for name, text in COMMANDS.items()}
    for name, p in cmds.items():
        _common(p)
        if name not in ("list", "import"):
            p.add_argument("model", metavar="MODEL")
        if name in ("list", "status", "history", "compare", "lineage"):
            p.add_argument("-o", "--output", choices=["json", "yaml"], help="machine-readable "
                           "output instead of the table")
        if name in ("list", "status"):
            p.add_argument("-w", "--watch", action="store_true", help="redraw until the "
                           "rollout ends")
            p.add_argument("--interval", type=float, default=1.0, help="--watch: seconds "
                           "between polls (default 1)")
            p.add_argument("--timeout", type=float, help="--watch: give up after this many "
                           "seconds (exit 1)")
    cmds["promote"].add_argument("--full", action="store_true", help="skip the remaining "
                                 "steps: the canary takes 100%% (promote-full)")
    cmds["rollback"].add_argument("--to", required=True, metavar="VERSION",
                                  help="a version that served before")
    how = cmds["rollback"].add_mutually_exclusive_group()
    how.add_argument("--hold", dest="mode", action="store_const", const="hold",
                     help="hold traffic on VERSION without writing spec (the default where "
                     "Argo CD or Flux manages the policy); ends when the target changes or "
                     "on `retry`")
    how.add_argument("--set-target", dest="mode", action="store_const", const="target",
                     help="set spec.targetVersion to VERSION (the default without GitOps)")
    cmds["compare"].add_argument("v1", metavar="V1")
    cmds["compare"].add_argument("v2", metavar="V2")
    cmds["import"].add_argument("file", metavar="FILE", help="a bundle from `export` (- for "
                                "stdin)")
    cmds["import"].add_argument("--dry-run", action="store_true", help="say what would "
                                "happen, change nothing")
    return parser


def make_console() -> Console:
    # A pipe gets plain text wide enough for the tables; rich would assume 80 columns.
    terminal = sys.stdout.isatty()
    width = None if terminal or os.environ.get("COLUMNS") else 160
    return Console(width=width, soft_wrap=False)


def emit(data: Any, fmt: str) -> None:
    text = (json.dumps(data, indent=2, default=str) if fmt == "json"
            else yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    sys.stdout.write(text + "\n")


def show(out: Console, fmt: str | None, data: Any, view: Callable[[], Any]) -> int:
    """-o json|yaml: the data; else the view of it, for people."""
    if fmt:
        emit(data, fmt)
    else:
        out.print(view())
    return OK


def now() -> datetime:
    return datetime.now(UTC)


# -- lookups -----------------------------------------------------------------------------------
def find_model(cluster: Cluster, namespace: str, model: str) -> Model:
    mvs, ups = cluster.model_objects(namespace)
    groups = group_models(mvs, ups)
    if (namespace, model) not in groups:
        here = sorted(m for _, m in groups)
        raise CliError(f"model {model!r} not found in namespace {namespace}: no ModelVersion "
                       f"or UpdatePolicy has spec.model={model}", NOT_FOUND,
                       f"models in {namespace}: {', '.join(here)}" if here else
                       f"namespace {namespace} has no models; -n picks another")
    return groups[(namespace, model)]


def find_policy(cluster: Cluster, namespace: str, model: str) -> Model:
    mvs, up = find_model(cluster, namespace, model)
    if up is None:
        raise CliError(f"model {model!r} has no UpdatePolicy in namespace {namespace}, so "
                       "there is no rollout to steer", NOT_FOUND)
    return mvs, up


# -- commands ----------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    every = bool(getattr(args, "all_namespaces", False))
    ns = None if every else cluster.namespace

    def fetch() -> list[dict[str, Any]]:
        mvs, ups = cluster.model_objects(ns)
        t = now()
        return [model_summary(n, m, versions, up, t)
                for (n, m), (versions, up) in group_models(mvs, ups).items()]

    def render(summaries: list[dict[str, Any]]) -> Any:
        return views.list_view(summaries, every)

    if args.watch and not args.output:
        watch(fetch, render, out, args.interval, args.timeout)
        return OK
    summaries = fetch()
    return show(out, args.output, {"models": summaries}, lambda: render(summaries))


def cmd_status(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    ns = cluster.namespace

    def fetch() -> list[dict[str, Any]]:
        mvs, up = find_model(cluster, ns, args.model)
        return [model_summary(ns, args.model, mvs, up, now())]

    if args.watch and not args.output:
        final = watch(fetch, lambda s: views.status_view(s[0]), out, args.interval,
                      args.timeout)
        if not out.is_terminal:
            out.print(views.status_view(final[0]))
        return FAILED if watch_failed(final[0]) else OK
    summary = fetch()[0]
    return show(out, args.output, summary, lambda: views.status_view(summary))


def cmd_history(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    _, up = find_policy(cluster, cluster.namespace, args.model)
    assert up is not None
    rows = history_rows(up, now())
    return show(out, args.output, {"namespace": cluster.namespace, "model": args.model,
                                   "policy": up["metadata"]["name"], "rollouts": rows},
                lambda: views.history_view(rows))


def cmd_steer(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    """promote, pause, resume, abort, retry, rollback: plan a patch, apply it, say what changed."""
    mvs, up = find_policy(cluster, cluster.namespace, args.model)
    assert up is not None
    plans: dict[str, Callable[[], actions.Change]] = {
        "promote": lambda: actions.promote(up, args.full),
        "pause": lambda: actions.pause(up), "resume": lambda: actions.resume(up),
        "abort": lambda: actions.abort(up), "retry": lambda: actions.retry(up),
        "rollback": lambda: actions.rollback(
            up, mvs, args.to, args.mode or "auto",
            args.mode is not None or cluster.may_edit_spec(cluster.namespace,
                                                           up["metadata"]["name"])),
    }
    change = plans[args.command]()
    if change.patch:
        cluster.patch_policy(cluster.namespace, up["metadata"]["name"], change.patch)
    for line in views.change_lines(cluster.namespace, up["metadata"]["name"], change):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    return OK


def cmd_compare(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    mvs, _ = find_model(cluster, cluster.namespace, args.model)
    by_version = {(mv.get("spec") or {}).get("version"): mv for mv in mvs}
    for v in (args.v1, args.v2):
        if v not in by_version:
            known = ", ".join(sorted(str(k) for k in by_version)) or "none"
            raise CliError(f"model {args.model!r} has no version {v!r} (versions: {known})",
                           NOT_FOUND)
    rows = compare_rows(by_version[args.v1], by_version[args.v2])
    return show(out, args.output,
                {"model": args.model, "versions": [args.v1, args.v2], "rows": rows},
                lambda: views.compare_view(args.v1, args.v2, rows))


def cmd_lineage(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    mvs, _ = find_model(cluster, cluster.namespace, args.model)
    data = {"model": args.model, "versions": [
        {"version": (mv.get("spec") or {}).get("version"),
         "phase": (mv.get("status") or {}).get("phase"), **facts(mv)} for mv in mvs]}

    if args.output:
        return show(out, args.output, data, lambda: None)
    for line in tree(mvs):  # one line per version, never wrapped: the tree stays a tree
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    return OK


def cmd_export(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    mvs, up = find_model(cluster, cluster.namespace, args.model)
    sys.stdout.write(bundle.export_bundle(cluster.namespace, args.model, mvs, up, now()))
    return OK


def cmd_import(args: argparse.Namespace, cluster: Cluster, out: Console) -> int:
    ns = cluster.namespace
    if args.file == "-":
        text, source = sys.stdin.read(), "stdin"
    else:
        try:
            text, source = Path(args.file).read_text(), args.file
        except OSError as e:
            raise CliError(f"cannot read {args.file}: {e.strerror}", NOT_FOUND) from None
    items = bundle.load_bundle(text, source)
    mvs, ups = cluster.model_objects(ns)
    steps = bundle.plan_import(items, mvs, ups)
    error = bundle.refused(steps)
    if error:
        raise error
    elsewhere = {o["metadata"].get("namespace") for o in items} - {None, ns}
    if elsewhere:
        out.print(f"note: the namespace(s) named in {source} ({', '.join(sorted(elsewhere))}) "
                  f"are ignored; importing into {ns}", markup=False, highlight=False)
    verb = "would be created" if args.dry_run else "created"
    for s in steps:
        if s.action == "create" and not args.dry_run:
            cluster.create(ns, bundle.creatable(s.obj))
        shown = verb if s.action == "create" else "unchanged (already there, no-op)"
        out.print(f"{s.kind.lower()}/{s.name} {shown}: {s.detail}", markup=False,
                  highlight=False, soft_wrap=True)
    made = sum(s.action == "create" for s in steps)
    models = sorted({model_of(s.obj) or "" for s in steps})
    if made == 0:
        out.print(f"nothing to do: everything in {source} is already in namespace {ns}",
                  markup=False, highlight=False)
    else:
        out.print(f"{'dry run: ' if args.dry_run else ''}{made} object(s) {verb}, "
                  f"{len(steps) - made} unchanged, in namespace {ns} (model(s) "
                  f"{', '.join(models)})", markup=False, highlight=False)
    return OK


HANDLERS: dict[str, Callable[[argparse.Namespace, Cluster, Console], int]] = {
    "list": cmd_list, "status": cmd_status, "history": cmd_history, "compare": cmd_compare,
    "lineage": cmd_lineage,
    "export": cmd_export, "import": cmd_import,
    **{c: cmd_steer for c in ("promote", "pause", "resume", "abort", "retry", "rollback")},
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "all_namespaces", False) and args.command != "list":
        parser.error("-A/--all-namespaces works with list only")
    if getattr(args, "watch", False) and args.output:
        parser.error("-w/--watch draws tables; it does not combine with -o")
    out = make_console()
    try:
        cluster = Cluster(getattr(args, "kubeconfig", None), getattr(args, "context", None),
                          getattr(args, "namespace", None))
        return HANDLERS[args.command](args, cluster, out)
    except CliError as e:
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  {e.hint}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error of ours. Point stdout at /dev/null so the
        # interpreter's final flush does not complain about it either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK


if __name__ == "__main__":
    sys.exit(main())
