"""Stage 3, running a suite: suites and their validation (``suites``), one unit and its file (``units``), per-arm lr
selection (``selection``), the grid in phases (``grid``), claims between processes (``claims``), progress
(``status``) and provenance (``provenance``)."""
