"""Quiet TensorFlow: its C++ start-up and converter logs are hidden unless asked for.

TensorFlow prints oneDNN and CPU-feature notices (once per bundled runtime, so twice),
MLIR converter chatter and `node_def_util` errors to stderr from C++, none of which a user
can act on. `import_tensorflow()` sets TF_CPP_MIN_LOG_LEVEL before the first import and
swallows what the import itself prints before TensorFlow's logging is configured (shown
again if the import fails). Commands call it after parsing their arguments, so `--help`
never loads TensorFlow.

The logs come back with `--verbose` (train, crossval, evaluate) or TINYXRAY_TF_LOGS=1; a
TF_CPP_MIN_LOG_LEVEL already set in the environment is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

VERBOSE_ENVIRONMENT = "TINYXRAY_TF_LOGS"


def wants_logs(verbose: bool = False) -> bool:
    """True when the user asked for TensorFlow's own logs (--verbose or TINYXRAY_TF_LOGS=1)."""
    return verbose or os.environ.get(VERBOSE_ENVIRONMENT, "") not in ("", "0")


def quiet_environment(verbose: bool = False) -> None:
    """Sets the variables TensorFlow reads at import; call before anything imports it.

    `verbose` (a command's --verbose) is remembered in TINYXRAY_TF_LOGS for the whole process.
    """
    if verbose:
        os.environ[VERBOSE_ENVIRONMENT] = "1"
    if wants_logs(verbose):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@contextlib.contextmanager
def swallowed_stderr(stdout: bool = False) -> Iterator[None]:
    """Hides what C/C++ code prints on file descriptor 2 (and 1 with `stdout`) inside.

    What was hidden is shown if an error escapes, so a failure keeps its explanation.
    """
    streams = [(sys.stderr, 2), *([(sys.stdout, 1)] if stdout else [])]
    with contextlib.ExitStack() as stack:
        saved = []
        for stream, descriptor in streams:
            captured = stack.enter_context(tempfile.TemporaryFile())
            stream.flush()
            saved.append((stream, descriptor, os.dup(descriptor), captured))
            os.dup2(captured.fileno(), descriptor)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            for stream, descriptor, original, captured in saved:
                stream.flush()
                os.dup2(original, descriptor)
                os.close(original)
                if failed:
                    captured.seek(0)
                    stream.write(captured.read().decode(errors="replace"))
                    stream.flush()


def import_tensorflow(verbose: bool = False) -> ModuleType:
    """Imports TensorFlow and Keras quietly (unless `verbose`); returns the tensorflow module."""
    quiet_environment(verbose)
    if "tensorflow" in sys.modules or wants_logs(verbose):
        import keras
        import tensorflow

        return tensorflow
    with swallowed_stderr():
        import keras  # noqa: F401
        import tensorflow
    tensorflow.get_logger().setLevel(logging.ERROR)
    return tensorflow
