"""A Langflow behind HTTPS, as many users reach one: a reverse proxy with a certificate of a private
CA, serving Langflow at a path prefix (`https://127.0.0.1:PORT/langflow`), and reached through an
HTTPS proxy (`HTTPS_PROXY`, a CONNECT tunnel). Trusted with `REQUESTS_CA_BUNDLE`, both scripts work
in every mode; without it, the one TLS error line says how to trust the CA.

Everything is local: the CA and the server's certificate are made for each run with the `openssl`
command; the front (TLS, the prefix stripped) and the CONNECT proxy below forward to the fake
Langflow server on 127.0.0.1, and nothing else.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PREFIX = "/langflow"
# Settings of the machine that would change which CA is trusted or which proxy is used.
TLS_AND_PROXY_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
PROXY_SETTINGS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
TLS_ERROR = (
    "error: TLS failed with {url} "
    "(check the URL's scheme and the server's certificate; REQUESTS_CA_BUNDLE=FILE trusts a private CA)\n"
)


# --- a private CA and the server's certificate, made with openssl ----------------------------------


class Certificates:
    def __init__(self, folder: Path) -> None:
        self.ca = folder / "ca.pem"
        self.server = folder / "server.pem"
        self.server_key = folder / "server.key"


def openssl(folder: Path, command: str) -> None:
    """Run `openssl` with these arguments (split at spaces) in folder."""
    result = subprocess.run(["openssl", *command.split()], cwd=folder, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"openssl {command} failed:\n{result.stderr}"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA of our own, and a certificate it signed for 127.0.0.1 (with the extensions Python 3.13's
    strict verification asks of both)."""
    assert shutil.which("openssl"), "these tests make their certificates with the openssl command: install openssl"
    folder = tmp_path_factory.mktemp("tls")
    key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    ca_extensions = "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
    openssl(folder, f"req -x509 {key} -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca {ca_extensions}")
    openssl(folder, f"req {key} -keyout server.key -out server.csr -subj /CN=127.0.0.1")
    (folder / "server.ext").write_text(
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = critical,CA:FALSE\n"
        "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid,issuer\n"
    )
    signing = "-CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext"
    openssl(folder, f"x509 -req -in server.csr -out server.pem {signing}")
    return Certificates(folder)


# --- the HTTPS front: TLS, and Langflow at a path prefix --------------------------------------------

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}


class Front(ThreadingHTTPServer):
    """Serves https://127.0.0.1:PORT/langflow/... from the fake at http://127.0.0.1:TARGET/..., as a
    reverse proxy in front of Langflow does; streamed answers are passed on as they come."""

    daemon_threads = True

    def __init__(self, target_port: int, certificates: Certificates) -> None:
        super().__init__(("127.0.0.1", 0), FrontHandler)
        self.target_port = target_port
        self.paths: list[str] = []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificates.server, certificates.server_key)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}{PREFIX}"

    def finish_request(self, request: socket.socket, client_address: object) -> None:
        """The TLS handshake, in the connection's own thread."""
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):  # a client that does not trust us hangs up here
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client gone mid-answer is not a test failure

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Front

    def log_message(self, *args: object) -> None:
        pass

    def relay(self) -> None:
        self.server.paths.append(self.path)
        if not self.path.startswith(PREFIX + "/"):
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.target_port, timeout=60)
        try:
            upstream.request(self.command, self.path[len(PREFIX) :], body=body, headers=headers)
            answer = upstream.getresponse()
            sized = answer.getheader("Content-Length") is not None
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            if not sized:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while data := answer.read1(65536):
                self.wfile.write(data if sized else b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            if not sized:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay


# --- an HTTPS proxy: CONNECT tunnels to loopback ports ---------------------------------------------


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), and only to 127.0.0.1; `tunnels` lists the
    host:port of each tunnel asked for."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tunnels: list[str] = []
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            threading.Thread(target=self.tunnel, args=(client,), daemon=True).start()

    def tunnel(self, client: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host != "127.0.0.1":
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.tunnels.append(target)
            server = socket.create_connection((host, int(port)), timeout=10)
            self.sockets.append(server)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            pump(client, server)

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


def pump(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    ends = {one: other, other: one}
    while True:
        readable, _, _ = select.select(list(ends), [], [], 60)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            ends[source].sendall(data)


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def front(fake, certificates: Certificates) -> Iterator[Front]:
    server = Front(int(fake.url.rsplit(":", 1)[1]), certificates)
    yield server
    server.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.close()


@pytest.fixture
def https_env(fake_env: dict[str, str], front: Front) -> dict[str, str]:
    """The fake's settings with the front's URL, and no CA bundle or proxy of the machine's."""
    removed = {*TLS_AND_PROXY_SETTINGS, *PROXY_SETTINGS}
    env = {name: value for name, value in fake_env.items() if name.upper() not in removed}
    return {**env, "LANGFLOW_URL": front.url}


MODES = {
    "--text": (["--text", "hi"], "", "hi\n"),
    "--stream": (["--stream", "hi"], "", "hi\n"),
    "chat": ([], "hi\n", "User: hi\nAI: hi\n\n"),
}


@pytest.mark.parametrize("mode", MODES)
def test_https_at_a_path_prefix_works_with_requests_ca_bundle_naming_the_private_ca(
    cli, https_env, front, certificates, mode
):
    args, stdin, shown = MODES[mode]
    script = "chat_session.py" if mode == "chat" else "chat_example.py"
    result = cli(*args, stdin=stdin, script=script, env={**https_env, "REQUESTS_CA_BUNDLE": str(certificates.ca)})
    assert (result.returncode, result.stdout, result.stderr) == (0, shown, "")
    assert f"{PREFIX}/api/v1/run/echo?stream=true" in front.paths


def test_https_with_a_private_ca_without_requests_ca_bundle_is_a_tls_error_naming_it(cli, https_env, front, fake):
    result = cli("--text", "hi", env=https_env)
    assert (result.returncode, result.stdout, result.stderr) == (4, "", TLS_ERROR.format(url=front.url))
    assert front.paths == [] and fake.runs() == []


def test_https_proxy_tunnels_every_request_to_the_server(cli, https_env, front, proxy, certificates):
    env = {**https_env, "HTTPS_PROXY": proxy.url, "REQUESTS_CA_BUNDLE": str(certificates.ca)}
    result = cli("--text", "hi", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
    assert set(proxy.tunnels) == {f"127.0.0.1:{front.server_address[1]}"}


def test_through_an_https_proxy_a_private_ca_without_requests_ca_bundle_is_a_tls_error_naming_it(
    cli, https_env, front, proxy, fake
):
    result = cli("--text", "hi", env={**https_env, "HTTPS_PROXY": proxy.url})
    assert (result.returncode, result.stdout, result.stderr) == (4, "", TLS_ERROR.format(url=front.url))
    assert proxy.tunnels and fake.runs() == []
