"""A webhook receiver on this machine: HTTPS with a self-signed certificate (made here with
`cryptography`) for 127.0.0.1 and a few names, answering what a test scripts and keeping
every request it got (path, headers, body). A path can be made slow: its raw answer is
written a byte at a time (`Trickle`), as a receiver that holds a caller would."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAMES = ("localhost", "receiver.test")


def self_signed(directory: Path, names: tuple[str, ...] = NAMES) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, ::1 and `names`, and its key: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "autopost test receiver")])
    now = datetime.datetime.now(datetime.UTC)
    alternative = [x509.DNSName(n) for n in names] + [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "receiver.pem", directory / "receiver.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Trickle:
    """The raw answer: `head` at once, then `drip` one byte every `every` seconds."""

    head: bytes
    drip: bytes
    every: float

    @property
    def seconds(self) -> float:
        return len(self.drip) * self.every


@dataclass
class Receiver:
    port: int
    ca_file: Path
    # What to answer, in order (status, extra headers, body); the last one repeats.
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=lambda: [(200, {}, b"ok")])
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Paths answered slowly instead.
    trickles: dict[str, Trickle] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@contextmanager
def https_receiver(
    host: str = "127.0.0.1", certificate: tuple[Path, Path] | None = None
) -> Iterator[Receiver]:
    """Serving with `certificate` (cert file, key file), or a new self-signed one."""
    with tempfile.TemporaryDirectory() as directory:
        cert_file, key_file = certificate or self_signed(Path(directory))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        receiver: Receiver

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                trickle = receiver.trickles.get(self.path)
                if trickle is not None:
                    self.close_connection = True
                    self._trickle(trickle)
                    return
                status, headers, answer = receiver.answer()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _trickle(self, trickle: Trickle) -> None:
                try:
                    self.wfile.write(trickle.head)
                    self.wfile.flush()
                    for byte in trickle.drip:
                        if receiver.stopping.wait(trickle.every):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    return  # the caller gave up and closed the connection

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((host, 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        receiver = Receiver(port=server.server_address[1], ca_file=cert_file)
        thread = threading.Thread(target=server.serve_forever, name="https-receiver", daemon=True)
        thread.start()
        try:
            yield receiver
        finally:
            receiver.stopping.set()
            server.shutdown()
            server.server_close()
