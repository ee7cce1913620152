#!/usr/bin/env python3
"""Runs a command for as long as whoever started this keeps its stdin open, on Linux and
macOS alike (Linux's PR_SET_PDEATHSIG has no macOS twin): the test harness starts each
local service (moto, the fake Kombo, the fault server) through it and holds the pipe; when
the test process ends, however it ends, the pipe closes and the service is stopped.

    tied.py COMMAND [ARG ...]
"""

import os
import signal
import subprocess
import sys
import threading


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(*_):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(0)

    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        stop()

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=watch_stdin, daemon=True).start()
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
