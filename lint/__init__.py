"""ckpt-lint: a static compatibility linter for ML training code."""

__version__ = "0.1.0"
