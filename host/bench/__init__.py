"""The serial bench: protocol codec, link, runner and reports (see docs/bench.md)."""

__all__ = ["cli", "link", "protocol", "report", "results_log", "runner"]
