"""UI helpers for the Gradio app: uploads, the compare pipeline, crops, difference maps,
tables, zip export, model cards and examples. Only ``compare_tab``/``models_tab`` import Gradio."""
