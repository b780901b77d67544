"""`python -m wasmcffi`: see `wasmcffi.cli`."""

from .cli import main

main()
