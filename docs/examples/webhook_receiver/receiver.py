"""A partner's receiver of Tessera webhooks: Python's standard HTTP server plus the Standard
Webhooks library, no Tessera code needed.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python receiver.py --port 9000 --db received.sqlite

What it shows: every request's signature is verified with the published ``standardwebhooks``
library (``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` over the raw body, the
timestamp within five minutes) before anything is read from the body; a bad signature or a body
that is not a CloudEvent is answered 400 and the receiver keeps running (Tessera retries, a
forger gets nothing); a delivery is applied once however often it arrives (a retry, or a repeat
after a crash on Tessera's side, carries the same ``webhook-id``): the id is stored in the same
transaction as the effect; the answer is quick (2xx within Tessera's 10 s timeout), so heavy work
belongs in a queue. During a secret rotation both secrets are accepted: set ``WEBHOOK_SECRET`` to
the new one and ``WEBHOOK_PREVIOUS_SECRET`` to the old one for the 24 hours both sign.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY = 1 << 20  # Tessera's events are far smaller; refuse anything bigger unread
REQUIRED = ("specversion", "id", "source", "type")


class BadPayload(ValueError):
    """A signed body that is not a Tessera CloudEvent."""


def verify(verifiers: list[Webhook], body: bytes, headers: dict[str, str]) -> None:
    """Raise WebhookVerificationError unless one of the secrets signed this exact body."""
    missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if not headers.get(h)]
    if missing:
        raise WebhookVerificationError(f"missing {', '.join(missing)}")
    error: WebhookVerificationError | None = None
    for verifier in verifiers:
        try:
            verifier.verify(body, headers, json_parse=False)  # the body is parsed after, as a CloudEvent
            return
        except WebhookVerificationError as exc:
            error = exc
    raise error or WebhookVerificationError("no secret configured")


def parse(body: bytes) -> dict:
    """The CloudEvent in the body (structured JSON mode), or BadPayload."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadPayload(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise BadPayload("not a CloudEvent: the body is not a JSON object")
    missing = [a for a in REQUIRED if not isinstance(event.get(a), str) or not event[a]]
    if missing:
        raise BadPayload(f"not a CloudEvent: missing {', '.join(missing)}")
    if not isinstance(event.get("data"), dict):
        raise BadPayload("not a Tessera event: data is not a JSON object")
    return event


class Store:
    """The deliveries applied (by webhook-id) and their effect, in one SQLite file."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        self.db.execute("CREATE TABLE IF NOT EXISTS seen (webhook_id TEXT PRIMARY KEY, received_at TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS events (event_id TEXT, type TEXT, subject TEXT, data TEXT, replay INTEGER)"
        )

    def apply_once(self, webhook_id: str, event: dict, replay: bool) -> bool:
        """Record the event unless this delivery was applied before; True when applied now."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("INSERT INTO seen VALUES (?, datetime('now'))", (webhook_id,))
            except sqlite3.IntegrityError:
                self.db.execute("ROLLBACK")
                return False
            # The effect, in the same transaction as the id: a real receiver updates its own records here.
            self.db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                (event["id"], event["type"], event.get("subject"), json.dumps(event["data"]), int(replay)),
            )
            self.db.execute("COMMIT")
            return True


def handler_for(verifiers: list[Webhook], store: Store, path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != path:
                return self._answer(404, "no such hook")
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                return self._answer(413, "too large")
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verify(verifiers, body, headers)
            except WebhookVerificationError as exc:
                return self._answer(400, f"bad signature: {exc}")
            try:
                event = parse(body)
            except BadPayload as exc:
                return self._answer(400, str(exc))
            replay = headers.get("webhook-replay") == "true"  # a re-delivery asked for with POST .../replay
            applied = store.apply_once(headers["webhook-id"], event, replay)
            self._answer(200, "applied" if applied else "already applied")

        def _answer(self, status: int, text: str) -> None:
            payload = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"receiver: {self.address_string()} {format % args}\n")

    return Handler


def serve(port: int, secrets: list[str], db: str, path: str = "/hook", host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The server, bound (port 0: any free port; ``server.server_port`` says which)."""
    verifiers = [Webhook(s) for s in secrets if s]
    if not verifiers:
        raise SystemExit("set WEBHOOK_SECRET to the endpoint's whsec_... secret")
    return ThreadingHTTPServer((host, port), handler_for(verifiers, Store(db), path))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--path", default="/hook")
    p.add_argument("--db", default="received.sqlite")
    args = p.parse_args(argv)
    secrets = [os.environ.get("WEBHOOK_SECRET", ""), os.environ.get("WEBHOOK_PREVIOUS_SECRET", "")]
    server = serve(args.port, secrets, args.db, args.path, args.host)
    print(f"receiver: listening on http://{args.host}:{server.server_port}{args.path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
