"""One function per user operation; the CLI and the Python API are thin layers over these."""
