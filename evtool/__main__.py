"""`python -m evtool` entry point."""

from evtool.cli.app import main

if __name__ == "__main__":
    main()
