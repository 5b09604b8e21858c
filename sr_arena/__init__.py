"""SR Arena's user interface: the Gradio app's building blocks (``sr_arena.ui``) and its data.

The engine lives in ``sr_models``; nothing here knows tensor layouts.
"""
