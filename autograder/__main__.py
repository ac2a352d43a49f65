"""``python3 -m autograder ...`` is the ``grade`` command (used inside the Gradescope bundle)."""

from .cli import main

main(prog_name="grade")
