"""Real-socket tests of the other ways to listen: TLS endpoint strings, UNIX sockets and
inherited file descriptors."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
from pathlib import Path

import pytest
import websocket
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.interface_server.e2e import RawWebSocket, read_response, start_server

pytestmark = pytest.mark.e2e


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1/localhost and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = directory / "key.pem"
    cert_path = directory / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def test_tls_endpoint_serves_https_and_wss(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    running = start_server(
        tmp_path, "-e", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
    try:
        context = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection((running.host, running.port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head, body = read_response(tls)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body)["scheme"] == "https"
        ws = websocket.create_connection(f"wss://localhost:{running.port}/ws/describe",
                                         sslopt={"ca_certs": str(cert)}, timeout=10)
        try:
            described = json.loads(ws.recv())
            assert described["scheme"] == "wss"
            ws.send("secure echo")
            assert ws.recv() == "secure echo"
        finally:
            ws.close()
            ws.shutdown()
    finally:
        running.kill()


def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "server.sock"
    running = start_server(tmp_path, "-u", str(path))
    try:
        assert running.addresses == [f"unix:{path}"]
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head, body = read_response(sock)
        description = json.loads(body)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert description["client"] is None and description["server"] is None
    finally:
        running.kill()


def test_inherited_file_descriptor(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    running = start_server(tmp_path, "--fd", str(listener.fileno()),
                           pass_fds=(listener.fileno(),))
    listener.close()
    try:
        assert running.addresses == [f"127.0.0.1:{port}"]
        raw = RawWebSocket(running, "/ws/echo")
        assert raw.accepted
        raw.send(b"via fd")
        assert raw.recv() == (1, b"via fd")
        raw.close()
    finally:
        running.kill()


def test_several_endpoints_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    running = start_server(tmp_path, "-b", "127.0.0.1", "-p", "0", "-u", str(path),
                           "-e", "tcp:0:interface=127.0.0.1")
    try:
        assert len(running.addresses) == 3 and running.addresses[1] == f"unix:{path}"
        second_port = int(running.addresses[2].rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", second_port), timeout=10) as sock:
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock)[0].startswith(b"HTTP/1.1 200 ")
    finally:
        running.kill()
