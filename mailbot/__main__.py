"""`python -m mailbot` runs the command line.

Guarded: the reader's worker processes (multiprocessing forkserver) import the main module again.
"""

from mailbot.cli import main

if __name__ == "__main__":
    main()
