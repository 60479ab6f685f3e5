"""The `tinyxray` command: one subcommand per pipeline stage, wiring only.

Each subcommand hands its arguments to the stage module's ``main(argv)``:
``tinyxray train --help`` is ``python -m tinyxray.train --help``, with the usage line
saying ``tinyxray train`` (stages whose ``main`` takes ``prog``). Every stage listed
here must exist (tests/test_cli.py checks), so none can silently disappear.
"""

from __future__ import annotations

import importlib
import inspect
import sys

# Subcommand -> (module, one-line help), in pipeline order.
STAGES: dict[str, tuple[str, str]] = {
    "audit": ("tinyxray.audit", "scan and audit the datasets, write the leak-free split"),
    "train": ("tinyxray.train", "train the Keras model"),
    "crossval": ("tinyxray.crossval", "cross-validate a training recipe, or compare runs"),
    "convert": ("tinyxray.convert", "convert to an int8 .tflite"),
    "evaluate": ("tinyxray.evaluate", "score a .tflite with the shared preprocessing"),
    "export-c": ("tinyxray.export_c", "write the firmware's model sources"),
    "aot": ("tinyxray.aot.cli", "compile the model ahead of time to C"),
    "preprocess": ("tinyxray.preprocess", "preprocess images as the firmware does"),
    "bench": ("tinyxray.bench.cli", "run the bench against a board"),
    "virtual-board": ("tinyxray.virtual_board", "build or run a virtual board"),
}


def usage(stages: dict[str, tuple[str, str]]) -> str:
    lines = ["usage: tinyxray <command> [arguments]", "", "commands:"]
    width = max((len(name) for name in stages), default=0)
    lines += [f"  {name.ljust(width)}  {help_text}" for name, (_, help_text) in stages.items()]
    lines += ["", "`tinyxray <command> --help` describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stages = STAGES
    if not args or args[0] in ("-h", "--help"):
        print(usage(stages))
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in stages:
        print(f"tinyxray: unknown command {name!r}\n\n{usage(stages)}", file=sys.stderr)
        return 2
    module = importlib.import_module(stages[name][0])
    if "prog" in inspect.signature(module.main).parameters:
        result = module.main(rest, prog=f"tinyxray {name}")
    else:
        result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
