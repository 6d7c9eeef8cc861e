"""nginx in front of the dashboard processes: the configuration
`manage.py cluster` runs, built from the same `location` blocks as the
production example in docs/deploy/nginx.conf (a test holds the two equal).
"""

from __future__ import annotations

import getpass
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

UPSTREAM = "switchboard"
# Debian's package puts it here; the cluster runs Debian's nginx.
MIME_TYPES = "/etc/nginx/mime.types"


def locations(static_root: Path | str, upstream: str = UPSTREAM) -> str:
    """The `location` blocks of the site's server block (indented 4)."""
    return f"""\
    # Static files from `manage.py collectstatic` (STATIC_ROOT), served by
    # nginx: no dashboard process spends a thread on them.
    location /static/ {{
        alias {str(static_root).rstrip("/")}/;
        expires 1h;
    }}

    # Consoles and walls: WebSockets. daphne pings every socket every 20 s
    # (--ping-interval), so the read timeout only ends a socket whose
    # dashboard process hung; nginx's 60 s default would cut a quiet one
    # whose pings were delayed by a busy loop.
    location /ws/ {{
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
        proxy_buffering off;
    }}

    # Pages, the admin, /healthz, /metrics, the history's streamed CSV.
    location / {{
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 120s;
    }}
"""


def upstream_block(ports: Sequence[int], upstream: str = UPSTREAM) -> str:
    """The dashboard processes on this machine, by fewest open sockets."""
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    return f"upstream {upstream} {{\n    least_conn;\n{servers}    keepalive 16;\n}}\n"


def cluster_conf(
    *, directory: Path, port: int, daphne_ports: Sequence[int], static_root: Path
) -> str:
    """A whole nginx.conf for one machine: in the foreground, every file
    under `directory` (nginx -p), plain HTTP on 127.0.0.1:`port`."""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root nginx would hand its workers to `nobody`, who may not read
    # the checkout's static files: keep the user who started the cluster.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    upstream = textwrap.indent(upstream_block(daphne_ports), "    ").rstrip()
    site = textwrap.indent(locations(static_root), "    ").rstrip()
    return f"""\
# Written by `manage.py cluster`; the production example is
# docs/deploy/nginx.conf (its location blocks are these).
{user}daemon off;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;

events {{
    worker_connections 4096;
}}

http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    access_log {directory / "access.log"};
{temp}

{upstream}

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;

{site}
    }}
}}
"""
