"""Subprocess side of a peer living in its own venv: ``python -m benchmarks.peers.worker MODULE``.

Protocol: one JSON request per line on stdin, one JSON reply per line on the original
stdout.  Engines print to stdout from C++, so fd 1 is pointed at stderr and replies go
through a private duplicate of it.  Arrays travel as .npy files.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import PeerUnavailableError


def main() -> int:
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # C++ chatter now lands in stderr, never in the protocol
    replies = os.fdopen(reply_fd, "w", buffering=1)
    sys.stdout = sys.stderr
    peer: Any = None
    try:
        module, _, cls = sys.argv[1].partition(":")
        peer = getattr(importlib.import_module(module), cls or "Peer")()
        version = peer.version()
        replies.write(json.dumps({"ok": True, "version": version}) + "\n")
    except Exception as exc:
        replies.write(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        try:
            if cmd == "prepare":
                info = peer.prepare(req["artifacts"], Path(req["workdir"]), int(req["threads"]))
                rep: dict[str, Any] = {"ok": True, "info": info}
            elif cmd == "set_input":
                peer.set_input(np.load(req["path"]))
                rep = {"ok": True}
            elif cmd == "run":
                rep = {"ok": True, "times": [peer.run_once() for _ in range(int(req.get("n", 1)))]}
            elif cmd == "output":
                np.save(req["path"], peer.output())
                rep = {"ok": True}
            elif cmd == "quit":
                peer.close()
                replies.write(json.dumps({"ok": True}) + "\n")
                return 0
            else:
                rep = {"ok": False, "error": f"unknown command {cmd}"}
        except PeerUnavailableError as exc:
            rep = {"ok": False, "unavailable": True, "error": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            rep = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(rep) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
