"""Developer and CI scripts (packaging, demo); importable so tests can call them in-process."""
