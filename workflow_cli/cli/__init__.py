"""The command-line layer: parse options, call one ``ops`` function, render the result."""
