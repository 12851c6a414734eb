"""``jupyter mlops models …``: the registry's command-line front door (parse, call, print).

``jupyter_mlops.cli`` calls :func:`add_commands` on its top-level subparsers and merges
:data:`COMMANDS` into its handler map; its ``main`` prints any ``MlopsError`` as one line and
exits with the code ``jupyter_mlops.errors.ERROR_TABLE`` gives it.
"""

from __future__ import annotations

import argparse
import json
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.format import print_table, when
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    """Add the ``models`` command group (list, show, alias, delete, propose, approve, card…)."""
    models = top.add_parser("models", help="model registry: versions, aliases, promotion") \
        .add_subparsers(dest="action", required=True, metavar="ACTION")

    p = models.add_parser("list", help="registered models")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = models.add_parser("show", help="a model's versions, or one version in detail")
    p.add_argument("name")
    p.add_argument("version", nargs="?", help="version number or alias")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = models.add_parser("alias", help="point ALIAS at VERSION (or --delete it)")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", nargs="?", type=int)
    p.add_argument("--delete", action="store_true", help="remove the alias")
    _who(p)

    p = models.add_parser("delete", help="delete one VERSION, or the whole model (needs manage)")
    p.add_argument("name")
    p.add_argument("version", nargs="?", type=int, help="omit to delete the model")
    _who(p)

    p = models.add_parser("propose", help="ask for ALIAS (default champion) to point at VERSION")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("--alias", "-a", default="champion")
    _who(p)

    for action, text in (("approve", "approve a pending promotion request"),
                         ("reject", "reject a pending promotion request")):
        p = models.add_parser(action, help=text)
        p.add_argument("request_id", type=int)
        _who(p)

    p = models.add_parser("requests", help="promotion requests")
    p.add_argument("name", nargs="?")
    p.add_argument("--status", choices=["PENDING", "APPROVED", "REJECTED"], type=str.upper)

    p = models.add_parser("card", help="model card as Markdown or HTML")
    p.add_argument("name")
    p.add_argument("version", nargs="?", help="version number or alias (default: latest)")
    p.add_argument("--format", choices=["markdown", "html"], default="markdown")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")

    p = models.add_parser("history", help="alias history and audit log of a model")
    p.add_argument("name")
    p.add_argument("--format", choices=["text", "json"], default="text")

    models.add_parser("roles", help="role assignments and what each role may do")
    for action, text in (("grant", "give USER a role"), ("revoke", "take a role from USER")):
        p = models.add_parser(action, help=text)
        p.add_argument("user")
        p.add_argument("role")
        p.add_argument("--by", help="who is acting (default: MLOPS_USER or the OS user)")


def _who(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", "-r", help="why (kept in the audit log)")
    p.add_argument("--user", "-u", help="acting user (default: MLOPS_USER or the OS user)")


def _registry(args):
    return client_for(args).registry


def _json(value) -> None:
    json.dump(value, sys.stdout, indent=2)
    print()


def models_list(args) -> None:
    models = _registry(args).list_models()
    if args.format == "json":
        return _json([m.to_dict() for m in models])
    print_table(["MODEL", "LATEST", "ALIASES", "UPDATED"],
           [[m.name, m.latest_version or "-",
             ", ".join(f"{a}={v}" for a, v in m.aliases.items()) or "-", when(m.updated_at)]
            for m in models])
    if not models:
        print("(no models registered)")


def models_show(args) -> None:
    reg = _registry(args)
    if args.version is None:
        versions = reg.list_versions(args.name)
        if args.format == "json":
            return _json([v.to_dict() for v in versions])
        keys = sorted({k for v in versions for k in v.metrics})[:5]
        print_table(["VERSION", "ALIASES", "CLASS", "FORMAT", "BY", "REGISTERED", *keys],
               [[v.version, ", ".join(v.aliases) or "-", v.model_class, v.flavor, v.created_by,
                 when(v.created_at), *(_num(v.metrics.get(k)) for k in keys)]
                for v in versions])
        return
    v = reg.get_version(args.name, args.version)
    if args.format == "json":
        return _json(v.to_dict())
    print(f"{v.name} version {v.version}  ({', '.join(v.aliases) or 'no aliases'})\n"
          f"  class {v.model_class}  format {v.flavor}  {v.size} B  hash {v.digest}\n"
          f"  registered by {v.created_by} at {when(v.created_at)}  run {v.run_id or '-'}")
    if v.trusted_types:
        print(f"  trusted types: {', '.join(v.trusted_types)}")
    for k, val in sorted(v.metrics.items()):
        print(f"  {k} = {_num(val)}")


def _num(value) -> str:
    return "-" if value is None else f"{value:.6g}"


def models_alias(args) -> None:
    reg = _registry(args)
    if args.delete:
        old = reg.delete_alias(args.name, args.alias, reason=args.reason, user=args.user)
        print(f"Removed {args.alias!r} of {args.name!r} (was version {old}).")
        return
    if args.version is None:
        from jupyter_mlops.errors import InvalidInputError

        raise InvalidInputError("Give the VERSION to point the alias at, or --delete.")
    reg.set_alias(args.name, args.alias, args.version, reason=args.reason, user=args.user)
    print(f"{args.name}@{args.alias} -> version {args.version}")


def models_delete(args) -> None:
    reg = _registry(args)
    if args.version is None:
        count = reg.delete_model(args.name, reason=args.reason, user=args.user)
        print(f"Deleted model {args.name!r} and its {count} version(s).")
    else:
        reg.delete_version(args.name, args.version, reason=args.reason, user=args.user)
        print(f"Deleted version {args.version} of {args.name!r}.")


def models_propose(args) -> None:
    req = _registry(args).propose(args.name, args.version, args.alias, reason=args.reason,
                                  user=args.user)
    print(f"Request #{req.id}: {req.name}@{req.alias} -> version {req.version} "
          f"(PENDING; approve with `jupyter mlops models approve {req.id}`).")


def models_approve(args) -> None:
    req = _registry(args).approve(args.request_id, reason=args.reason, user=args.user)
    print(f"Request #{req.id} APPROVED: {req.name}@{req.alias} -> version {req.version}.")


def models_reject(args) -> None:
    req = _registry(args).reject(args.request_id, reason=args.reason, user=args.user)
    print(f"Request #{req.id} REJECTED.")


def models_requests(args) -> None:
    reqs = _registry(args).list_promotions(args.name, args.status)
    print_table(["#", "MODEL", "ALIAS", "VERSION", "STATUS", "PROPOSED BY", "DECIDED BY", "WHY"],
           [[r.id, r.name, r.alias, r.version, r.status, r.proposed_by, r.decided_by or "-",
             (r.reason or "")[:40]] for r in reqs])
    if not reqs:
        print("(no promotion requests)")


def models_card(args) -> None:
    card = _registry(args).model_card(args.name, args.version)
    text = card.html if args.format == "html" else card.markdown
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"Wrote {args.output}")
    else:
        print(text)


def models_history(args) -> None:
    events = _registry(args).audit_log(args.name, limit=None)
    events.reverse()
    if args.format == "json":
        return _json([e.to_dict() for e in events])
    for e in events:
        d = e.details or {}
        what = ", ".join(f"{k}={d[k]}" for k in ("alias", "version", "previous", "request_id")
                         if k in d)
        gate = (d.get("gate") or {}).get("summary")
        print(f"{when(e.at)}  {e.user:12} {e.action:16} {what}"
              + (f"  gate: {gate}" if gate else "") + (f"  why: {e.reason}" if e.reason else ""))


def models_roles(args) -> None:
    reg = _registry(args)
    print_table(["USER", "ROLE", "GRANTED BY", "AT"],
           [[r.user, r.role, r.granted_by or "-", when(r.granted_at)] for r in reg.list_roles()])
    print("\nrole permissions:")
    for role, actions in reg.permissions().items():
        print(f"  {role}: {', '.join(actions)}")


def models_grant(args) -> None:
    _registry(args).grant_role(args.user, args.role, by=args.by)
    print(f"{args.user} now holds {args.role}.")


def models_revoke(args) -> None:
    _registry(args).revoke_role(args.user, args.role, by=args.by)
    print(f"{args.user} no longer holds {args.role}.")


COMMANDS = {("models", name): globals()[f"models_{name}"] for name in (
    "list", "show", "alias", "delete", "propose", "approve", "reject", "requests", "card",
    "history", "roles", "grant", "revoke")}
