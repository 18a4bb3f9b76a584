"""earful: the application that wires listener, rules, responders and storage:
configuration, the pipeline, the daemon and the `earful` command.

May import: every other package.
"""

__version__ = "0.1.0"
