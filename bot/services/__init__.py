"""Use cases: services apply decisions of the core through ports."""
