"""readloom's eval harness internals (not installed: ``evals/harness.py`` puts this folder
on ``sys.path``). Suites live in ``evalkit.suites``; thresholds in ``evals/thresholds.yaml``."""
