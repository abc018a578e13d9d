"""The ``mhin`` command line: the daily jobs of the national team and ARC teams."""
