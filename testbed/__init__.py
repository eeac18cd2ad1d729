"""maildrill: a mail-platform testbed that breaks on purpose and scores the recovery."""

__version__ = "0.1.0"
