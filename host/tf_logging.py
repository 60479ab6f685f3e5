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

import logging
import os
import sys
import tempfile
from types import ModuleType

VERBOSE_ENVIRONMENT = "TINYXRAY_TF_LOGS"


def wants_logs(verbose: bool = False) -> bool:
    """True when the user asked for TensorFlow's own logs (--verbose or TINYXRAY_TF_LOGS=1)."""
    return verbose or os.environ.get(VERBOSE_ENVIRONMENT, "") not in ("", "0")


def quiet_environment(verbose: bool = False) -> None:
    """Sets the variables TensorFlow reads at import; call before anything imports it."""
    if wants_logs(verbose):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def import_tensorflow(verbose: bool = False) -> ModuleType:
    """Imports TensorFlow and Keras quietly (unless `verbose`); returns the tensorflow module."""
    quiet_environment(verbose)
    if "tensorflow" in sys.modules or wants_logs(verbose):
        import keras
        import tensorflow

        return tensorflow
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    tensorflow.get_logger().setLevel(logging.ERROR)
    return tensorflow
