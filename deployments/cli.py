"""``rewards``: the command line.

``rewards validate FILE``  check a spreadsheet against the catalog (no Prefect, sends nothing;
                          ``--catalog saved.json`` works offline, ``--out DIR`` writes the
                          rejected rows ready to fix)
``rewards run FILE``       run the fulfil-rewards flow on it
``rewards manage FILE``    run the manage-rewards flow on an actions file (resend, reissue,
                          cancel, reschedule, note, freeze, unfreeze; a report's
                          failed_deliveries.csv is one); ``--dry-run`` checks and prices them
``rewards history LINE``   a line's whole life: sent or scheduled, failed, resent, delivered (the
                          ledger and Tango); LINE is its reference or externalRefLineItemID
``rewards demo``           the sandbox + a temporary Prefect server + the sample file
``rewards serve``          serve the deployments (manual, on-upload, scheduled inbox scan)
``rewards watch``          announce spreadsheets within seconds of landing in the inbox
``rewards deploy --pool P`` register the deployments to a process work pool (for workers)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from raas import RaasError
from rewards.errors import RewardsError, explain
from rewards.memory import give_back_freed_memory

if TYPE_CHECKING:
    from raas import Catalog

PROBLEM_LINES = 50  # lines of problems printed; --out writes every one


def _validate(args: argparse.Namespace) -> int:
    from rewards import export
    from rewards.reading import read_recipients
    from rewards.summary import problem_lines, warning_lines
    from rewards.validation import ValidationOptions, validate

    out = _out_folder(args.out) if args.out else None
    sheet = read_recipients(args.file, args.sheet)
    if args.catalog:  # offline: a saved copy of the catalog, no Tango settings needed
        catalog, currency = _catalog_file(Path(args.catalog)), _currency(args.currency)
        held = sorted({i.currencyCode for i in catalog.items()})
        if held and currency not in held:  # a typo would reject every row for its currency
            raise RewardsError(
                f"--currency {currency}: no reward in {args.catalog} is in {currency} (its "
                f"rewards are in {', '.join(held)}); give the account's currency"
            )
    else:
        from tasks.tango import tango_client

        client = tango_client(args.customer, args.account)
        if not client.settings.account_identifier:
            raise RewardsError(
                "no Tango account to validate against: pass --account or set "
                "TANGO_ACCOUNT_IDENTIFIER (or validate offline with --catalog FILE)"
            )
        catalog, currency = client.get_catalog(), client.get_account().currencyCode
    result = validate(
        sheet.frame,
        catalog,
        currency,
        ValidationOptions(default_phone_country=args.phone_country, default_campaign=args.campaign),
        sheet.header_map,
    )

    rejected: list[Path] = []
    warned: list[Path] = []
    if out is not None:  # first: a reader that stops early (`| head`) does not stop these
        try:  # and none left from an earlier run that no longer holds
            rejected = export.write_if_any(result.rejected, out, "rejected_rows")
            warned = export.write_if_any(result.warnings, out, "warnings")
        except OSError as exc:
            raise RewardsError(f"--out {args.out}: cannot write there ({exc.strerror})") from None
    read_from = f" (sheet {sheet.sheet_name!r})" if sheet.sheet_name else ""
    print(
        f"{Path(args.file).name}{read_from}: {result.rows_in} rows, {len(result.valid)} valid, "
        f"{len(result.rejected)} rejected (account currency {currency})"
    )
    print(f"  {sheet.read_as()}")

    lines, unsaid = problem_lines(result.problems, PROBLEM_LINES)
    for line in lines:
        print(f"  {line}")
    if unsaid:
        more = "" if out else " (--out DIR writes them all)"
        print(f"  ... and {unsaid} more{more}")

    for line in warning_lines(result.warnings):  # rows that go on, but should be looked at
        print(line)
    if rejected:
        print("rejected rows, with their problems, ready to fix: " + ", ".join(map(str, rejected)))
    if warned:
        print("warnings: " + ", ".join(map(str, warned)))

    return 1 if len(result.rejected) else 0


def _out_folder(given: str) -> Path:
    """The --out folder (made when there is something to write): a file there is an error
    before any work."""
    folder = Path(given)
    if folder.exists() and not folder.is_dir():
        raise RewardsError(f"--out {given}: is a file, not a folder; give a folder")
    return folder


def _currency(given: str) -> str:
    """--currency: three letters (ISO 4217), as the account's currency is written."""
    code = given.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise RewardsError(f"--currency {given!r}: use the account's three-letter code, e.g. USD")
    return code


def _catalog_file(path: Path) -> Catalog:
    """A catalog saved from Tango's GET /catalogs (or the sandbox's data/sandbox/catalog.json)."""
    import json

    from pydantic import ValidationError

    from raas import Catalog

    try:
        return Catalog.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise RewardsError(f"{path}: no such catalog file") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "top level"
        raise RewardsError(
            f"{path}: not a Tango catalog ({where}: {error['msg']}); save the answer of "
            "GET /catalogs as JSON"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise RewardsError(
            f"{path}: not a Tango catalog ({first}); save the answer of GET /catalogs as JSON"
        ) from None


def _crashes_shown() -> None:
    """On a team's Prefect server (PREFECT_API_URL), a run this process starts and that is
    then killed shows Crashed within minutes, as deployment runs do: its heartbeats, and the
    automation that watches them (see :mod:`deployments.zombies`). A temporary server dies
    with the process and its runs with it."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/health", timeout=10).raise_for_status()
    except httpx.HTTPError:
        raise RewardsError(
            f"the Prefect server at PREFECT_API_URL ({url}) cannot be reached: start it (or "
            "wait until it has started), or unset PREFECT_API_URL to run on a temporary one"
        ) from None
    # before Prefect is imported: it reads its settings once

    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")
    from rewards.params import RewardsSettings

    from .zombies import ensure_automation

    try:
        ensure_automation(RewardsSettings().silent_run_seconds)
    except Exception as exc:  # the run itself does not depend on it
        print(f"warning: killed runs may stay Running: {exc}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from rewards.reading import refuse_actions_file

    refuse_actions_file(args.file)  # before any Prefect server is reached
    _crashes_shown()
    from .terminal import run_and_print

    params = {
        "source_path": args.file,
        "sheet_name": args.sheet or "",
        "campaign": args.campaign or "",
        "customer_identifier": args.customer or "",
        "account_identifier": args.account or "",
        "dry_run": args.dry_run,
        "all_or_nothing": args.all_or_nothing,
        "default_phone_country": args.phone_country,
    }
    if args.chunk is not None:
        params["max_line_items_per_order"] = args.chunk
    return run_and_print(params)


def _manage(args: argparse.Namespace) -> int:
    _crashes_shown()
    from .terminal import manage_and_print

    return manage_and_print(
        {
            "source_path": args.file,
            "sheet_name": args.sheet or "",
            "customer_identifier": args.customer or "",
            "account_identifier": args.account or "",
            "dry_run": args.dry_run,
            "default_phone_country": args.phone_country,
        }
    )


def _history(line: str, customer: str | None, account: str | None) -> int:
    from rewards.history import line_history
    from tasks.tango import ledger, tango_client

    for event in line_history(ledger(), tango_client(customer, account), line):
        when = "now" if event.at == "~now" else event.at or "?"
        print(f"{when:25} {event.source:6} {event.what}")
    return 0


def _links(batch: str) -> int:
    from rewards import export, links
    from rewards.params import RewardsSettings

    settings = RewardsSettings()
    # as `rewards serve` does when they are not set: its own key and its local file server
    url = settings.reports_url or f"http://127.0.0.1:{settings.reports_port}"
    secret = (
        settings.reports_key.get_secret_value()
        if settings.reports_key
        else links.installation_key(settings.reports_dir)
    )
    folder = export.latest_report(settings.reports_dir, batch) if links.BATCH.match(batch) else None
    if folder is None:
        raise RewardsError(f"{batch}: no such batch under {settings.reports_dir}")
    key = links.decode_key(secret)
    for name in sorted(p.name for p in folder.iterdir() if p.name in links.FILES):
        print(links.sign(url, key, folder.name, name, settings.reports_link_hours))

    return 0


def _approvals() -> int:
    from deployments.approvals import waiting

    runs = waiting()
    if not runs:
        print("No run is waiting for approval.")
        return 0
    print(f"{len(runs)} run(s) waiting for approval (answer on the run's page: Resume):")
    for run in runs:
        since = f"{run.since:%Y-%m-%d %H:%M} UTC" if run.since else "?"
        print(f"  {run.name} ({run.flow}, waiting since {since}): {run.question}")
        print(f"    {run.page}")
    return 0


def _needs_prefect_server(command: str) -> None:
    """Long-running commands talk to a Prefect server that outlives them; without one, Prefect
    would start a temporary server that vanishes with the process (and the uploads with it)."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise RewardsError(
            f"rewards {command} needs a Prefect server: start one (prefect server start) and "
            "set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api"
        )


def _country(value: str) -> str:
    """A region phone numbers without +country code are read in (argparse's type)."""
    from rewards.params import phone_region

    try:
        return phone_region(value)
    except RewardsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _team_settings(args: argparse.Namespace) -> dict[str, object]:
    """The fulfil-rewards parameters given on the command line, by their flow names."""
    names = {
        "approval_threshold": "approval_threshold",
        "account": "account_identifier",
        "customer": "customer_identifier",
        "campaign": "campaign",
        "completion_mode": "completion_mode",
    }
    return {flow: getattr(args, arg) for arg, flow in names.items() if getattr(args, arg)}


def _positive(text: str) -> int:
    """An option that counts something: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number above 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewards",
        description="Send rewards from a spreadsheet through Tango, fix what went wrong after, "
        "and tell who got what. Each command's --help says more.",
        epilog="exit codes: 0 done; 1 rows rejected (validate), or the run stopped on what it "
        "found (Tango refused rows, every row rejected, a gate, an approval refused); 2 it "
        "could not work (the file, Tango, a setting); 130 Ctrl-C; 141 closed pipe",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    said = {
        "validate": "check a spreadsheet against the catalog; sends nothing, needs no Prefect",
        "run": "send a spreadsheet's rewards (the fulfil-rewards flow, in this process)",
    }
    for name in ("validate", "run"):
        p = sub.add_parser(name, help=said[name], description=said[name])
        p.add_argument("file", help="the recipients spreadsheet (.csv or .xlsx)")
        p.add_argument(
            "--sheet",
            default=None,
            help="the .xlsx sheet to read (any case); default: the one visible sheet with "
            "recipients",
        )
        p.add_argument(
            "--customer", default=None, help="Tango customer (TANGO_CUSTOMER_IDENTIFIER)"
        )
        p.add_argument(
            "--account", default=None, help="Tango account to charge (TANGO_ACCOUNT_IDENTIFIER)"
        )
        p.add_argument("--campaign", default=None, help="campaign for the rows that name none")
        p.add_argument(
            "--phone-country",
            default="US",
            type=_country,
            help="country of numbers written without +, two letters (default US)",
        )
        if name == "validate":
            p.add_argument(
                "--catalog",
                default=None,
                help="a saved catalog JSON (GET /catalogs): validate offline, without Tango settings",
            )
            p.add_argument("--currency", default="USD", help="account currency with --catalog")
            p.add_argument("--out", default=None, help="folder for rejected_rows.csv / .xlsx")
        if name == "run":
            p.add_argument(
                "--dry-run", action="store_true", help="say what would be sent, and its cost"
            )
            p.add_argument(
                "--all-or-nothing",
                action="store_true",
                help="send nothing if any row is rejected",
            )
            p.add_argument(
                "--chunk", type=_positive, default=None, help="line items per Tango order"
            )
    manage_said = "resend, reissue, cancel, reschedule, note, freeze or unfreeze rewards sent"
    manage = sub.add_parser("manage", help=manage_said, description=manage_said)
    manage.add_argument("file", help="the actions file (a report's failed_deliveries.csv is one)")
    manage.add_argument("--sheet", default=None, help="the .xlsx sheet to read")
    manage.add_argument("--customer", default=None, help="Tango customer")
    manage.add_argument("--account", default=None, help="Tango account")
    manage.add_argument("--dry-run", action="store_true", help="check and price; do nothing")
    manage.add_argument(
        "--phone-country",
        default="US",
        type=_country,
        help="country of new numbers written without +, two letters (default US)",
    )
    history_said = "a line's whole life: sent, failed, resent, delivered"
    history = sub.add_parser("history", help=history_said, description=history_said)
    history.add_argument(
        "line",
        help="Tango's referenceLineItemId (the report's reference_line_item_id) or "
        "externalRefLineItemID (external_ref_line_item_id, what Tango's portal shows)",
    )
    history.add_argument("--customer", default=None, help="Tango customer")
    history.add_argument("--account", default=None, help="Tango account")
    demo_said = "the main job on the embedded default: local sandbox, temporary Prefect server"
    demo = sub.add_parser("demo", help=demo_said, description=demo_said)
    demo.add_argument(
        "--manage",
        metavar="ACTIONS",
        default=None,
        help="run an actions file (the demo report's failed_deliveries.csv) against the last "
        "demo's sandbox and ledger",
    )
    demo.add_argument("--dry-run", action="store_true", help="with --manage: check and price")
    serve_said = "serve the deployments: the UI's forms, uploads to the inbox, the inbox scan"
    serve = sub.add_parser("serve", help=serve_said, description=serve_said)
    serve.add_argument("--cron", default="0 * * * *", help="inbox scan schedule (hourly)")
    serve.add_argument("--inbox", default=None, help="default: REWARDS_INBOX_DIR")
    deploy_said = "register the deployments to a process work pool, for workers to run"
    dep = sub.add_parser("deploy", help=deploy_said, description=deploy_said)
    dep.add_argument("--pool", required=True, help="process work pool (created if absent)")
    dep.add_argument("--cron", default="0 * * * *", help="inbox scan schedule (hourly)")
    dep.add_argument("--inbox", default=None, help="default: REWARDS_INBOX_DIR")
    for p in (serve, dep):  # what a team sets once for uploads and UI runs
        team = p.add_argument_group("settings of every run the deployments start")
        team.add_argument(
            "--approval-threshold", type=float, default=None, help="pause above this cost"
        )
        team.add_argument("--account", default=None, help="Tango account to charge")
        team.add_argument("--customer", default=None, help="Tango customer")
        team.add_argument("--campaign", default=None, help="campaign for rows naming none")
        team.add_argument(
            "--completion-mode",
            choices=["auto", "poll", "webhook"],
            default=None,
            help="how a run learns its orders are done (auto: webhooks when configured)",
        )
    dep.add_argument(
        "--rate-limit-name",
        default="tango-api",
        help="global concurrency limit pacing Tango requests (set "
        "REWARDS_GLOBAL_RATE_LIMIT to it on the workers)",
    )
    dep.add_argument(
        "--per-second", type=float, default=10.0, help="Tango requests per second, all workers"
    )
    approvals_said = "the runs waiting for approval: what each asks, where to answer"
    sub.add_parser("approvals", help=approvals_said, description=approvals_said)
    links = sub.add_parser("links", help="fresh links to a batch's report files")
    links.add_argument("batch", help="the batch id (its report folder's name)")
    watch_said = "announce spreadsheets within seconds of landing in the inbox"
    watch = sub.add_parser("watch", help=watch_said, description=watch_said)
    watch.add_argument("--inbox", default=None, help="default: REWARDS_INBOX_DIR")
    return parser


# Without PREFECT_API_URL, `rewards run` and the demo start a temporary Prefect server; on a
# busy small machine it can take longer than Prefect's 20 s to answer (set before Prefect loads)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    give_back_freed_memory()  # `rewards validate` and `run` of big files: see rewards.memory
    # a temporary Prefect server's telemetry: with no internet its heartbeat fails, and on
    # that server's SQLite it printed "database is locked" tracebacks over runs that went well
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        return _dispatch(args)
    except RewardsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RaasError as exc:  # Tango or its settings, not the rows: not exit 1
        print(f"error: {explain(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rewards validate ... | head`: the reader has gone, go quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:  # Ctrl-C: quietly, at once
        print("stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # the temporary Prefect server did not come up
        if "ephemeral Prefect API server" not in str(exc):
            raise
        print(
            f"error: {exc} The machine may be busy: run again, or start a server "
            "(prefect server start) and set PREFECT_API_URL",
            file=sys.stderr,
        )
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("serve", "deploy", "watch", "approvals"):
        _needs_prefect_server(args.command)
    if args.command == "validate":
        return _validate(args)
    if args.command == "run":
        return _run(args)
    if args.command == "manage":
        return _manage(args)
    if args.command == "history":
        return _history(args.line, args.customer, args.account)
    if args.command == "serve":
        from deployments.serve import serve

        serve(args.cron, args.inbox, _team_settings(args))
        return 0
    if args.command == "deploy":
        from deployments.pool import deploy

        ids = deploy(
            args.pool,
            cron=args.cron,
            inbox=args.inbox,
            limit_name=args.rate_limit_name,
            per_second=args.per_second,
            defaults=_team_settings(args),
        )
        print(
            f"{len(ids)} deployments registered to work pool {args.pool!r}; start "
            f"workers with: prefect worker start --pool {args.pool}"
        )
        return 0
    if args.command == "links":
        return _links(args.batch)
    if args.command == "approvals":
        return _approvals()
    if args.command == "watch":
        from deployments.watch import watch
        from rewards.params import RewardsSettings

        settings = RewardsSettings()
        watch(Path(args.inbox) if args.inbox else settings.inbox_dir, settings.ledger_url)
        return 0
    from .demo import main as demo_main

    return demo_main(args.manage, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
