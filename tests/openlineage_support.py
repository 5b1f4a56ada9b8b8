"""OpenLineage test support: the RunEvent schema validator and a receiver on 127.0.0.1."""

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "openlineage" / "RunEvent.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA_FILE.read_text()),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)


def assert_valid(events: list[dict[str, Any]]) -> None:
    """Every event is a valid OpenLineage RunEvent (and there is at least one)."""
    assert events
    for event in events:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(event)]
        assert not errors, errors


class Receiver(http.server.ThreadingHTTPServer):
    """An OpenLineage receiver on 127.0.0.1 that keeps what it is posted (path, event)."""

    def __init__(self, status: int = 201) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.status = status
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events received, in order."""
        return [event for _, event in self.received]


def serve() -> Iterator[Receiver]:
    """Run a `Receiver` in a thread until the generator is closed (a fixture's body)."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
