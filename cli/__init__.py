"""The commands: ``python -m cli.<name> -h``. Each module parses its options, calls the library (model/, lab/) and
prints; the library has no command-line code. Options shared by several commands, the flags made from the settings'
dataclasses and the one error wrapper live in ``cli.common``."""
