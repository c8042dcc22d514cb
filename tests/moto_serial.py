"""moto_server answering one request at a time.

moto applies a DynamoDB ``TransactWriteItems`` without isolation, so when its stock server runs
requests on parallel threads two transactions can both pass a condition and overwrite each
other (laxer than DynamoDB, which serializes conflicting transactions). Served one request at
a time, every request is atomic, as DynamoDB's are; clients may still race between requests.

Usage: python -m tests.moto_serial PORT
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    os.environ["MOTO_PORT"] = str(port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1", port, app, threaded=False, processes=1, request_handler=MotoRequestHandler
    )


if __name__ == "__main__":
    main()
