"""``python -m loadtests.bench ...``: the same as ``merchant bench ...``."""

from shared.cli.bench import main

main()
