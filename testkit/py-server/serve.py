"""Runs `resumable-upload ARGS...` for the tests and exits as soon as stdin closes.

The package's own CLI entry point (`resumable_upload.cli.main`, what the `resumable-upload`
script calls) runs in this process; a daemon thread waits for EOF on stdin and then ends the
process, so a server started by a test never outlives the test process, even one that was
killed (the Node server in testkit/tus-server does the same).

Usage: .venv/bin/python serve.py serve --host 127.0.0.1 --port P --upload-dir D --db-path F ...
"""

import os
import sys
import threading

from resumable_upload.cli import main


def _exit_when_stdin_closes() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
sys.argv = ["resumable-upload", *sys.argv[1:]]
sys.exit(main())
