"""The `reelgate` command line.

reelgate serve [--host H] [--port P]     API + workers + notifier (the embedded default)
reelgate migrate                         apply database migrations
reelgate keys create [--name N] [--admin] [--max-active N] [--rate-per-minute R]
reelgate keys list | revoke KEY_ID | limits KEY_ID [--max-active N] [--rate-per-minute R]
reelgate webhook-secret                  print the callback signing secret
reelgate models                          list the model registry (REELGATE_MODELS_FILE)
reelgate worker [--metrics-port P]       workers only; Prometheus metrics on port P
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reelgate import __version__
from reelgate.errors import SchemaBehindError, SettingsError
from reelgate.observability import LogFormat, configure_logging
from reelgate.runtime import webhook_secret
from reelgate.settings import Settings
from reelgate.store import db
from reelgate.store.base import Store
from reelgate.store.store import SqlStore, open_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelgate", description="Self-hosted video generation")
    parser.add_argument("--version", action="version", version=f"reelgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API, workers and notifier in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")

    api = sub.add_parser("api", help="run the HTTP API only (workers run elsewhere)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--log-level", default="info")

    worker = sub.add_parser("worker", help="run workers only: claim and render tasks")
    worker.add_argument("--models", default="", help="comma-separated models (default: all)")
    worker.add_argument("--count", type=int, default=1, help="worker threads in this process")
    worker.add_argument("--device", default="cpu", help="device label shown by `workers`")
    worker.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics at http://HOST:PORT/metrics"
    )
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")

    workers = sub.add_parser("workers", help="list live workers")
    workers.add_argument(
        "--window", type=float, default=0.0, help="seconds of silence before a worker is dead"
    )

    sub.add_parser("migrate", help="apply database migrations")

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key and print it once")
    create.add_argument("--name", default="")
    create.add_argument(
        "--admin",
        action="store_true",
        help="may also manage keys and see workers and queues (the console's Operate page)",
    )
    limits = keys_sub.add_parser("limits", help="set a key's quotas (omit to use the defaults)")
    limits.add_argument("key_id")
    for sub_parser in (create, limits):
        sub_parser.add_argument(
            "--max-active", type=_positive_int, help="queued + running tasks allowed"
        )
        sub_parser.add_argument(
            "--rate-per-minute", type=_positive_float, help="requests per minute allowed"
        )
    keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")

    sub.add_parser("webhook-secret", help="print the whsec_ secret callbacks are signed with")
    models = sub.add_parser(
        "models", help="list the model registry: each name, its engine and settings"
    )
    models.add_argument(
        "--check",
        action="store_true",
        help="probe each upstream endpoint's reachability and key (creates nothing)",
    )

    generate = sub.add_parser(
        "generate", help="make a video on a server (REELGATE_URL, REELGATE_API_KEY)"
    )
    generate.add_argument("prompt")
    generate.add_argument("--ratio", default="16:9")
    generate.add_argument("--seconds", type=int, default=5)
    generate.add_argument("--style", default="none")
    generate.add_argument("--model", default="gen4")
    generate.add_argument(
        "--motion", default="", help="e.g. y=0.4,r=-6 (x y z r bg_x_pan bg_y_pan)"
    )
    generate.add_argument("--seed", type=int)
    generate.add_argument("--image", help="first frame: an https URL or a local image file")
    generate.add_argument("--end-frame", action="store_true", help="use --image as the last frame")
    generate.add_argument("-o", "--output", default="", help="where to save the MP4")

    tasks = sub.add_parser("tasks", help="list, show or cancel tasks on a server")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True)
    tasks_list = tasks_sub.add_parser("list")
    tasks_list.add_argument("--limit", type=int, default=20)
    for name in ("show", "cancel"):
        tasks_sub.add_parser(name).add_argument("task_id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("generate", "tasks"):
        return _client(args)
    configure_logging(LogFormat.TEXT)
    try:
        settings = Settings()
        settings.validate_for_start()
    except (ValidationError, SettingsError) as exc:
        print(f"reelgate: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    try:
        return _run(args, settings)
    except (SchemaBehindError, SettingsError) as exc:  # incl. a bad REELGATE_MODELS_FILE
        print(f"reelgate: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("serve", "api"):
        from reelgate.server import serve

        workers = None if args.command == "serve" else 0
        serve(
            settings,
            args.host,
            args.port,
            workers=workers,
            make_first_key=args.command == "serve",
            log_level=args.log_level,
        )
        return 0
    if args.command == "worker":
        from reelgate.engines.registry import ModelRegistry
        from reelgate.server import run_worker

        models = [m.strip() for m in args.models.split(",") if m.strip()]
        registry = ModelRegistry.from_file(settings.models_file)
        unknown = [m for m in models if not registry.knows(m)]
        if unknown:
            print(f"reelgate: unknown models: {', '.join(unknown)}", file=sys.stderr)
            return 2
        metrics_address = None
        if args.metrics_port is not None:
            metrics_address = (args.metrics_host, args.metrics_port)
        run_worker(settings, models or None, max(1, args.count), args.device, metrics_address)
        return 0
    if args.command == "webhook-secret":
        print(webhook_secret(settings))
        return 0
    if args.command == "models":
        return _models(settings, check=args.check)
    if args.command == "migrate":
        sql = SqlStore.open(settings.resolved_database_url)
        try:
            db.upgrade(sql.engine)
        finally:
            sql.close()
        print("database is up to date")
        return 0
    store = open_store(settings.resolved_database_url)
    try:
        store.prepare()
        if args.command == "workers":
            return _workers(store, args.window or 3 * settings.heartbeat_seconds)
        return _keys(args, store)
    finally:
        store.close()


def _client(args: argparse.Namespace) -> int:
    from reelgate.client import Client, ClientError, image_argument, parse_motion

    try:
        client = Client.from_env()
    except ClientError as exc:
        print(f"reelgate: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "generate":
            return _generate(client, args, parse_motion, image_argument)
        if args.tasks_command == "list":
            for task in client.list(args.limit):
                print(
                    f"{task['id']}\t{task['status']}\t{task['percent']}%\t"
                    f"{task['model']}\t{task['prompt'][:40]}"
                )
            return 0
        if args.tasks_command == "show":
            print(json.dumps(client.get(args.task_id), indent=2, ensure_ascii=False))
            return 0
        result = client.cancel(args.task_id)
        print(f"{result['id']}\t{result['status']}")
        return 0
    except (ClientError, ValueError, OSError) as exc:
        print(f"reelgate: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _generate(
    client: Any,
    args: argparse.Namespace,
    parse_motion: Callable[[str], dict[str, float]],
    image_argument: Callable[[str], str],
) -> int:
    request: dict[str, Any] = {
        "prompt": args.prompt,
        "ratio": args.ratio,
        "seconds": args.seconds,
        "style": args.style,
        "model": args.model,
        "motion": parse_motion(args.motion),
    }
    if args.seed is not None:
        request["seed"] = args.seed
    if args.image:
        request["image"] = image_argument(args.image)
        request["image_as_end_frame"] = args.end_frame
    task = client.create(request)
    print(f"task {task['id']}", file=sys.stderr)
    task = client.wait(task["id"])
    if task["status"] != "succeeded":
        print(f"reelgate: task {task['status']}: {task['failure']}", file=sys.stderr)
        return 1
    target = Path(args.output or f"{task['id']}.mp4")
    client.download(task["video_url"], target)
    print(target)
    return 0


def _models(settings: Settings, *, check: bool = False) -> int:
    """Print the registry the server would serve; a bad file fails as `serve` would. With
    `check`, probe every upstream endpoint (reachable, key accepted) and exit 1 if one fails."""
    from reelgate.engines.models_file import default_entries, load_models_file

    if settings.models_file is None:
        entries = default_entries()
    else:
        entries = load_models_file(settings.models_file)
    print("NAME\tENGINE\tSETTINGS")
    for entry in entries:
        print(f"{entry.name}\t{entry.engine}\t{entry.config.summary()}")
    if not check:
        return 0
    from reelgate.engines.upstream.check import check_entries

    results = check_entries((entry.name, entry.config) for entry in entries)
    print("\nNAME\tENDPOINT\tCHECK")
    for result in results:
        print(f"{result.model}\t{result.endpoint}\t{result.outcome}")
    return 0 if all(r.ok for r in results) else 1


def _workers(store: Store, window: float) -> int:
    now = time.time()
    live = store.workers.live(window)
    if not live:
        print("no live workers")
        return 0
    print("ID\tHOST\tPID\tDEVICE\tMODELS\tTASK\tLAST BEAT")
    for w in live:
        print(
            f"{w.id}\t{w.hostname}\t{w.pid}\t{w.device}\t{','.join(w.models)}\t"
            f"{w.current_task_id or '-'}\t{now - w.heartbeat_at:.1f}s ago"
        )
    return 0


def _keys(args: argparse.Namespace, store: Store) -> int:
    if args.keys_command == "create":
        record, key = store.keys.create(
            args.name, args.max_active, args.rate_per_minute, admin=args.admin
        )
        print(f"{record.id}\t{key}")
        print("The key is shown this once only; store it now.", file=sys.stderr)
        return 0
    if args.keys_command == "list":
        print("ID\tPREFIX\tSTATE\tROLE\tCREATED\tLIMITS\tNAME")
        for item in store.keys.list():
            state = "revoked" if item.revoked_at else "active"
            role = "admin" if item.admin else "key"
            created = datetime.fromtimestamp(item.created_at, UTC).isoformat(timespec="seconds")
            limits = f"max_active={item.max_active_tasks or '-'} rpm={item.rate_per_minute or '-'}"
            print(f"{item.id}\t{item.prefix}…\t{state}\t{role}\t{created}\t{limits}\t{item.name}")
        return 0
    if args.keys_command == "limits":
        if not store.keys.set_limits(args.key_id, args.max_active, args.rate_per_minute):
            print(f"reelgate: no key {args.key_id}", file=sys.stderr)
            return 1
        print(
            f"limits of {args.key_id}: max active {args.max_active or 'default'}, "
            f"rate per minute {args.rate_per_minute or 'default'}"
        )
        return 0
    if store.keys.revoke(args.key_id):
        print(f"revoked {args.key_id}")
        return 0
    print(f"reelgate: no active key {args.key_id}", file=sys.stderr)
    return 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value
