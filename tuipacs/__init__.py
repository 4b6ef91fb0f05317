"""tuipacs: a PACS workstation in the terminal."""

__version__ = "0.1.0"
