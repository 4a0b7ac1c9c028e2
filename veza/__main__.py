"""The ``veza`` command: serve, worker, migrate, dev, seed, openapi, create-admin, reconcile-storage,
warranty-check."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date
from importlib.metadata import entry_points

from veza.settings import ConfigError, Settings, load_settings


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    host, port = args.host or settings.host, args.port or settings.port
    if args.processes > 1:
        from veza.processes import run_web_processes, web_environment

        if port == 0:
            sys.exit("veza: --processes needs a fixed port, not 0")
        sys.exit(run_web_processes(args.processes, host, port, web_environment(settings)))

    from veza.app import create_app
    from veza.logs import AccessLogger
    from veza.serve import run

    run(
        create_app(settings),
        host,
        port,
        per_address=settings.max_connections_per_address,
        reuse_port=settings.reuse_port,
        use_uvloop=settings.uvloop,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("veza.access") if settings.access_log else None,
        keepalive_timeout=75,  # aiohttp's run_app default; the handler's own default is an hour
    )


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    # The worker package imports veza, never the reverse: its runner is found by its entry point.
    (entry_point,) = entry_points(group="veza.commands", name="worker")
    entry_point.load()(settings, burst=args.burst)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    from veza.migrate import migrate

    migrate(settings.database_url)


def cmd_seed(settings: Settings, args: argparse.Namespace) -> None:
    from veza.seed import seed

    try:
        asyncio.run(seed(settings))
    except ConfigError as exc:
        sys.exit(f"veza: {exc}")


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> None:
    from veza.app import create_app
    from veza.openapi import build_spec

    json.dump(build_spec(create_app(settings)), sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> None:
    import getpass

    from pydantic import ValidationError

    from veza.errors import ApiError
    from veza.http import validation_details
    from veza.resources import running_resources
    from veza.users.models import RegisterFields
    from veza.users.service import create_user

    password = settings.admin_password
    if not password:
        password = getpass.getpass("Password for the new admin: ")
        if getpass.getpass("Again: ") != password:
            sys.exit("veza: the passwords differ")
    try:
        fields = RegisterFields(username=args.username, email=args.email, password=password)
    except ValidationError as exc:
        sys.exit("veza: " + "; ".join(f"{d['field']}: {d['message']}" for d in validation_details(exc)))

    async def create() -> dict:
        async with running_resources(settings) as app:
            return await create_user(app, fields.username, str(fields.email), fields.password, role="admin")

    try:
        user = asyncio.run(create())
    except ApiError as exc:
        details = "; ".join(f"{d['field']}: {d['message']}" for d in exc.details)
        sys.exit(f"veza: {exc.message}" + (f" ({details})" if details else ""))
    print(f"admin {user['username']} <{user['email']}> created with id {user['id']}")


def cmd_reconcile_storage(settings: Settings, args: argparse.Namespace) -> None:
    from veza.http import json_dumps
    from veza.resources import running_resources
    from veza.storage.reconcile import reconcile

    async def run() -> dict:
        async with running_resources(settings) as app:
            return (await reconcile(app, dry_run=args.dry_run, force=args.force)).summary()

    try:
        summary = asyncio.run(run())
    except ConfigError as exc:
        sys.exit(f"veza: {exc}")
    sys.stdout.write(json_dumps(summary).decode() + "\n")
    if summary["skipped"]:
        sys.exit("veza: another storage reconciliation is running")
    if summary["refused"]:
        sys.exit(f"veza: {summary['refused']}")


def cmd_warranty_check(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from veza.gear.notifier import check_warranties
    from veza.resources import running_resources

    today = args.date or datetime.now(UTC).date()

    async def run() -> int:
        async with running_resources(settings) as app:
            return await check_warranties(app, today)

    try:
        sent = asyncio.run(run())
    except ConfigError as exc:
        sys.exit(f"veza: {exc}")
    print(f"{sent} warranty notification(s) sent for {today.isoformat()}")


def cmd_dev(settings: Settings, args: argparse.Namespace) -> None:
    from veza.devserver import run_dev

    sys.exit(run_dev(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veza", description="Veza backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web process (REST + WebSocket)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="run N web processes on one port (SO_REUSEPORT); the kernel spreads connections over them",
    )
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run the arq worker")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="upgrade the database to the newest revision").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load a demo catalog (idempotent)").set_defaults(func=cmd_seed)
    admin = sub.add_parser(
        "create-admin", help="create an admin account (password from a prompt or VEZA_ADMIN_PASSWORD)"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--username", required=True)
    admin.set_defaults(func=cmd_create_admin)
    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(func=cmd_openapi)
    reconcile = sub.add_parser(
        "reconcile-storage",
        help="delete stored blobs that no row names (older than STORAGE_ORPHAN_GRACE_SECONDS), "
        "report rows whose blob is missing; the worker does this daily",
    )
    reconcile.add_argument("--dry-run", action="store_true", help="count orphans, delete nothing")
    reconcile.add_argument("--force", action="store_true", help="delete even when most old blobs look orphaned")
    reconcile.set_defaults(func=cmd_reconcile_storage)
    warranty = sub.add_parser(
        "warranty-check",
        help="notify owners of warranties ending in 30, 7, 1 or 0 days, once each; the worker does this daily",
    )
    warranty.add_argument("--date", type=date.fromisoformat, help="the day to check for (YYYY-MM-DD), today by default")
    warranty.set_defaults(func=cmd_warranty_check)
    sub.add_parser("dev", help="run web and worker, starting embedded PostgreSQL/Redis when needed").set_defaults(
        func=cmd_dev
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    from veza.memory import return_large_blocks

    return_large_blocks()
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"veza: {exc}")
    from veza.logs import setup_logging

    setup_logging(settings.log_level)
    args.func(settings, args)


if __name__ == "__main__":
    main()
