"""The ``patternlite`` command line.

``inspect`` runs on the light runtime. ``prune``, ``export``, ``finetune`` and
``demo`` need the converter extra (TensorFlow); they are imported only when
asked for, so ``patternlite inspect`` starts fast and works without TensorFlow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

CONVERTER_COMMANDS = ("prune", "export", "finetune", "demo")
USAGE = (
    "usage: patternlite {inspect,prune,export,finetune,demo} ...\n\n"
    "  inspect   summarise a .tflite's pattern metadata and FLOP reduction\n"
    "  prune     data-free pattern + connectivity pruning of a Keras model\n"
    "  export    turn a (retrained) pruned Keras model into a .tflite with metadata (fp32, or --int8)\n"
    "  finetune  masked retraining on your own data, masks held fixed\n"
    "  demo      the whole story on built-in material (digits CNN, VGG-shaped speed test)\n\n"
    "'patternlite COMMAND --help' lists a command's options and defaults; --version prints the version.\n"
    "Exit codes: 0 done, 1 refused or failed (one line says why), 2 bad command line, 130 interrupted.\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--version":
        from patternlite import __version__

        print(f"patternlite {__version__}")
        return 0
    if not args or args[0] in ("-h", "--help"):
        # Bare `patternlite` is an incomplete command line: the help goes to stderr with exit 2
        # (argparse's convention), so a script that forgot the command fails; --help is a request.
        print(USAGE, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "inspect":
        from patternlite.inspect import main as inspect_main

        try:
            return inspect_main(rest)
        except BrokenPipeError:
            # `patternlite inspect m.tflite | head`: the reader left; that is not an error of ours.
            # Point stdout at /dev/null so the interpreter's final flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    if command in CONVERTER_COMMANDS:
        if "--verbose" not in rest:
            # TensorFlow's C++ start-up chatter (oneDNN, cuInit) drowns the output; set before it loads.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            from patternlite.converter.cli import main as converter_main
        except ImportError as exc:  # TensorFlow missing: say how to get it
            print(
                f"patternlite {command} needs the converter extra ({exc}).\n"
                "Install it with: pip install 'patternlite[converter]'",
                file=sys.stderr,
            )
            return 1
        return converter_main([command, *rest])
    print(f"patternlite: unknown command {command!r}; try 'patternlite --help'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
