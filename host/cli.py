"""The `tinyxray` command: one subcommand per pipeline stage, wiring only.

Each subcommand hands its arguments to the stage module's ``main(argv)``:
``tinyxray train --help`` is ``python -m tinyxray.train --help``. A stage whose
module is not in this checkout is not listed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

# Subcommand -> (module, one-line help), in pipeline order.
STAGES: dict[str, tuple[str, str]] = {
    "audit": ("tinyxray.audit", "scan and audit the datasets, write the leak-free split"),
    "train": ("tinyxray.train", "train the Keras model"),
    "convert": ("tinyxray.convert", "convert to an int8 .tflite"),
    "evaluate": ("tinyxray.evaluate", "score a .tflite with the shared preprocessing"),
    "export-c": ("tinyxray.export_c", "write the firmware's model sources"),
    "aot": ("tinyxray.aot.cli", "compile the model ahead of time to C"),
    "preprocess": ("tinyxray.preprocess", "preprocess images as the firmware does"),
    "bench": ("tinyxray.bench.cli", "run the bench against a board"),
    "virtual-board": ("tinyxray.virtual_board", "build or run a virtual board"),
}


def available_stages() -> dict[str, tuple[str, str]]:
    """The stages whose module exists in this checkout."""
    found = {}
    for name, (module, help_text) in STAGES.items():
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            present = False
        if present:
            found[name] = (module, help_text)
    return found


def usage(stages: dict[str, tuple[str, str]]) -> str:
    lines = ["usage: tinyxray <command> [arguments]", "", "commands:"]
    width = max((len(name) for name in stages), default=0)
    lines += [f"  {name.ljust(width)}  {help_text}" for name, (_, help_text) in stages.items()]
    lines += ["", "`tinyxray <command> --help` describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stages = available_stages()
    if not args or args[0] in ("-h", "--help"):
        print(usage(stages))
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in stages:
        print(f"tinyxray: unknown command {name!r}\n\n{usage(stages)}", file=sys.stderr)
        return 2
    module = importlib.import_module(stages[name][0])
    result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
