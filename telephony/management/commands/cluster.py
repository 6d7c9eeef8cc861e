"""`manage.py cluster` (`make cluster`): docs/deploy.md's layout on one
machine, nginx in front of two daphnes, two workers, the embedded
RingCentral, on this machine's Redis (REDIS_URL) and PostgreSQL
(DATABASE_URL, its database created when missing). Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from psycopg import sql

from telephony.management.cluster import Cluster, Layout, nginx_executable
from telephony.management.commands import serve
from telephony.management.runtime import simulator_credentials
from telephony.simulator.config import PROFILES


def _ports(raw: str) -> list[int]:
    try:
        return [int(p) for p in raw.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of ports: {raw!r}") from None


def _check_free(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise CommandError(
                f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); is a cluster "
                "already running? Choose other ports (manage.py cluster --help)."
            ) from None


def _create_database() -> None:
    """Create DATABASE_URL's database on its server when it is missing."""
    db = settings.DATABASES["default"]
    conninfo: dict[str, Any] = {
        "dbname": "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    try:
        with psycopg.connect(**conninfo, autocommit=True, connect_timeout=5) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
            ).fetchone()
            if not found:
                conn.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"]))
                )
    except psycopg.Error as exc:
        raise CommandError(f"PostgreSQL is not reachable: {exc}") from None


class Command(BaseCommand):
    help = "Run the scaled deployment (nginx, daphnes, workers) on this machine."

    def add_arguments(self, parser: CommandParser) -> None:
        layout = Layout()
        parser.add_argument("--port", type=int, default=layout.port, help="nginx")
        parser.add_argument(
            "--daphne-ports",
            type=_ports,
            default=list(layout.daphne_ports),
            help="comma-separated: one dashboard process on each (default 8001,8002)",
        )
        parser.add_argument("--workers", type=int, default=layout.workers)
        parser.add_argument("--simulator-port", type=int, default=layout.simulator_port)
        parser.add_argument("--profile", choices=PROFILES, default=layout.profile)
        parser.add_argument("--speed", type=float, default=layout.speed)

    def handle(self, *args: Any, **options: Any) -> None:
        layout = Layout(
            port=options["port"],
            daphne_ports=options["daphne_ports"],
            workers=options["workers"],
            simulator_port=options["simulator_port"],
            profile=options["profile"],
            speed=options["speed"],
            static_root=settings.STATIC_ROOT,
        )
        env = self._check(layout)
        _create_database()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        # The same demo supervisor as `manage.py serve`, password shown once.
        demo = serve.Command()
        demo.stdout = self.stdout
        demo._ensure_demo_user()
        cluster = Cluster(layout, env, self.stdout)
        cluster.start()
        self.stdout.write(
            f"Switchboard (cluster): {layout.url}/  nginx in front of "
            f"{len(layout.daphne_ports)} daphnes, {layout.workers} workers  "
            "(Ctrl-C stops)"
        )
        try:
            self._wait(cluster)
        finally:
            self.stdout.write("Stopping the cluster")
            cluster.stop()

    def _check(self, layout: Layout) -> dict[str, str]:
        """The children's environment, once everything they need is here."""
        if nginx_executable() is None:
            raise CommandError(
                "nginx is not installed: sudo apt-get install -y nginx "
                "(make prerequisites does it as root)"
            )
        engine = settings.DATABASES["default"]["ENGINE"]
        if engine != "django.db.backends.postgresql" or not settings.REDIS_URL:
            raise CommandError(
                "the cluster needs PostgreSQL and Redis: set DATABASE_URL=postgres://"
                "… and REDIS_URL=redis://… (make cluster does)"
            )
        for port in (layout.port, *layout.daphne_ports, layout.simulator_port):
            _check_free(port)
        env = dict(os.environ)
        if settings.SECRET_KEY_IS_EPHEMERAL:
            # Every dashboard process must sign sessions with one key.
            env["DJANGO_SECRET_KEY"] = settings.SECRET_KEY
        # Behind nginx, as docs/deploy.md configures the dashboards.
        env.setdefault("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
        env.setdefault("SWITCHBOARD_CLIENT_ADDRESS_HEADER", "X-Real-IP")
        if not settings.RINGCENTRAL_SERVER_URL:
            credentials = simulator_credentials()
            env["RINGCENTRAL_CLIENT_ID"] = credentials["client_id"]
            env["RINGCENTRAL_CLIENT_SECRET"] = credentials["client_secret"]
            env["RINGCENTRAL_JWT"] = credentials["jwt"]
        return env

    def _wait(self, cluster: Cluster) -> None:
        """Until SIGINT or SIGTERM; a part that exits is said once."""
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        told: set[str] = set()
        while not stop.wait(1.0):
            for child in cluster.exited():
                if child.name not in told:
                    told.add(child.name)
                    self.stderr.write(
                        f"{child.name} exited with code {child.popen.returncode}"
                    )
