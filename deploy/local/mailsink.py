"""The local mail server `make run` starts: SMTP on loopback (aiosmtpd) that stores every message
it accepts as an .eml file, so the e-mails the notifications service sends can be read.

    python deploy/local/mailsink.py --port 8025 --dir .data/mail
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.directory / f".{name}.tmp"
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        tmp.write_bytes(content)
        tmp.replace(self.directory / name)  # whole files only: a reader never sees half a message
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path(".data/mail"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(Store(args.dir), hostname=args.host, port=args.port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"mail sink on {args.host}:{args.port}, storing in {args.dir}", flush=True)
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
