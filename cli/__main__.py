"""``python -m prelabel.cli``."""

from prelabel.cli.main import main

main()
