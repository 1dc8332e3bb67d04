"""nginx in front of test nodes: deploy/nginx/slychat.conf rendered with loopback ports and
a certificate made for the test, run unprivileged from a directory of its own."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import ROOT

SITE = ROOT / "deploy" / "nginx" / "slychat.conf"
UNPRIVILEGED = ("nobody", "nogroup")  # nginx's user when the tests run as root


def _sub(pattern: str, replacement: str, text: str, expected: int) -> str:
    """`re.subn` that fails unless the template matched exactly `expected` times, so the
    test notices when the site file changes shape."""
    result, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if n != expected:
        raise AssertionError(f"{SITE}: {pattern!r} matched {n} times, not {expected}")
    return result


def render_site(
    template: str, *, nodes: list[str], https_port: int, http_port: int, cert: Path, key: Path
) -> str:
    """The site with the test's node addresses, loopback listen ports and certificate; the
    rest (headers, timeouts, stickiness, body sizes) is the file as shipped."""
    node_lines = "".join(f"\\1server {node} max_fails=3 fail_timeout=10s;\n" for node in nodes)
    text = _sub(r"^(\s*)server 10\.0\.0\.11:8000 [^;\n]*;\n", node_lines, template, 1)
    text = _sub(r"^\s*server 10\.0\.0\.12:8000 [^;\n]*;\n", "", text, 1)
    text = _sub(r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", text, 1)
    text = _sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", text, 1)
    text = _sub(r"^\s*listen \[::\]:(80|443)[^;\n]*;\n", "", text, 2)
    text = _sub(r"ssl_certificate(\s+)\S+;", f"ssl_certificate\\g<1>{cert};", text, 1)
    return _sub(r"ssl_certificate_key(\s+)\S+;", f"ssl_certificate_key\\g<1>{key};", text, 1)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written to `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slychat test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _main_config(directory: Path) -> str:
    """The `nginx.conf` around the site: everything nginx writes stays in `directory`."""
    temp_paths = "".join(
        f"    {kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "worker_processes 1;\n"
        f"pid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"    access_log {directory / 'access.log'};\n"
        f"{temp_paths}"
        f"    include {directory / 'slychat.conf'};\n"
        "}\n"
    )


@dataclass(frozen=True)
class Nginx:
    url: str  # https://127.0.0.1:<port>
    http_url: str  # the plain-HTTP server, which redirects
    tls: ssl.SSLContext  # trusts the test certificate
    directory: Path

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""


@contextmanager
def running_nginx(
    binary: str, nodes: list[str], https_port: int, http_port: int
) -> Iterator[Nginx]:
    """nginx fronting `nodes` (host:port), until the block ends."""
    with tempfile.TemporaryDirectory(prefix="slychat-nginx-") as tmp:
        directory = Path(tmp)
        cert, key = self_signed(directory)
        site = render_site(
            SITE.read_text(),
            nodes=nodes,
            https_port=https_port,
            http_port=http_port,
            cert=cert,
            key=key,
        )
        (directory / "slychat.conf").write_text(site)
        (directory / "nginx.conf").write_text(_main_config(directory))
        as_root = os.geteuid() == 0
        if as_root:  # the master process itself runs unprivileged, as it does for a user
            for path in (directory, *directory.iterdir()):
                shutil.chown(path, *UNPRIVILEGED)
        command = [binary, "-p", str(directory), "-c", str(directory / "nginx.conf")]
        user, group = UNPRIVILEGED if as_root else (None, None)
        checked = subprocess.run(
            [*command, "-t", "-q", "-e", "stderr"],
            capture_output=True,
            text=True,
            user=user,
            group=group,
        )
        if checked.returncode != 0:
            raise AssertionError(f"nginx -t refused the site:\n{checked.stderr}\n{site}")
        proc = subprocess.Popen(
            [*command, "-e", str(directory / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
            group=group,
        )
        tls = ssl.create_default_context(cafile=str(cert))
        front = Nginx(
            f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", tls, directory
        )
        try:
            _wait_until_serving(front, proc)
            yield front
        finally:
            proc.terminate()
            proc.wait(10)


def _wait_until_serving(front: Nginx, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{front.error_log()}")
        with (
            suppress(OSError),
            urllib.request.urlopen(f"{front.url}/healthz", timeout=1, context=front.tls) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nginx did not serve /healthz:\n{front.error_log()}")
