"""The work behind each command of the CLI, one module per command, one function each."""
