"""The bundle's nginx (.platform/nginx/) on loopback, in front of a benchmarked app: the same
configuration an Elastic Beanstalk instance runs, with its paths moved into a scratch folder,
its port and its upstream's port changed, and the Host it passes on keeping the port."""

import os
import re
import shutil
from pathlib import Path

from tests.servers import ROOT, Daphne, free_port, port_open

PLATFORM = ROOT / ".platform" / "nginx"


def render(folder: Path, listen: int, upstream: int) -> Path:
    """Write the instance's nginx configuration into ``folder`` for loopback; its main file."""
    (folder / "conf.d").mkdir(parents=True, exist_ok=True)
    shutil.copytree(PLATFORM / "conf.d", folder / "conf.d", dirs_exist_ok=True)
    (folder / "logs" / "healthd").mkdir(parents=True, exist_ok=True)
    text = (PLATFORM / "nginx.conf").read_text()
    replacements = [
        (r"(?m)^user\s+nginx;\n", ""),  # runs as whoever runs the benchmark
        (r"/var/log/nginx/", f"{folder}/logs/"),
        (r"/var/run/nginx\.pid", f"{folder}/nginx.pid"),
        (r"listen\s+80 default_server;", f"listen 127.0.0.1:{listen} default_server;"),
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};"),
    ]
    # Behind the load balancer the site is on port 443, which $host leaves out; here nginx
    # listens on another port, which the app's origin check must see in Host as the browser
    # (the load) sends it.
    proxy_host = ("proxy_set_header    Host                $host;",
                  "proxy_set_header    Host                $http_host;")  # fmt: skip
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count, f"nginx.conf no longer has {pattern!r}"
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", f"daemon off;\n\nhttp {{\n{temp}\n", 1)
    for conf in (folder / "conf.d" / "elasticbeanstalk").glob("*.conf"):
        conf.write_text(
            conf.read_text().replace("/var/log/nginx/", f"{folder}/logs/").replace(*proxy_host)
        )
    main = folder / "nginx.conf"
    main.write_text(text)
    return main


class Nginx(Daphne):
    """nginx in front of ``upstream`` (a port on 127.0.0.1)."""

    name = "nginx"

    def __init__(self, upstream: int, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(dict(os.environ), folder / "nginx.log")
        self.folder = folder
        self.upstream = upstream

    def command(self):
        main = render(self.folder, self.port, self.upstream)
        return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.folder), "-c", str(main)]

    def ready(self):
        return port_open(self.port)


def available() -> bool:
    return bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())


__all__ = ["Nginx", "available", "free_port", "render"]
