"""tinyxray: a tiny chest X-ray classifier for microcontrollers.

A research and engineering tool, not a diagnostic device.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
