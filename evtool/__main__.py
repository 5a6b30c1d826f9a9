"""`python -m evtool` entry point."""

from evtool.cli import main

if __name__ == "__main__":
    main()
