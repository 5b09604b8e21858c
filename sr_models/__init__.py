"""SR Arena's engine: five ×4 super-resolution methods, their weights and paper-exact metrics.

This package imports no UI code; ``app.py`` and the CLI (``python -m sr_models``) call into it.
"""
