"""evtool: a command-line event workbench.

Nothing heavy is imported here: `evtool --help` must start fast.
"""

__version__ = "0.1.0"
