"""The page's CSS (passed to ``launch(css=...)``) and theme."""
from __future__ import annotations

CSS = """
.sr-badge { display:inline-block; padding:0 .5em; border-radius:999px; font-size:.8em; cursor:help; white-space:nowrap; }
.sr-cap { font-size:.9em; line-height:1.5; padding:.25em .1em; }
.sr-metric { font-variant-numeric: tabular-nums; font-weight:600; }
.sr-unavailable { background:#fff4f2; border:1px solid #f1c4bb; border-radius:8px; padding:.6em; }
.sr-error { background:#fff4f2; border-radius:8px; padding:.6em; }
.sr-fix { color:#555; font-size:.92em; }
.sr-note { color:#555; font-size:.85em; }
.sr-pending { color:#666; }
.sr-stopped { background:#f4f4f6; border:1px solid #ccc; border-radius:8px; padding:.6em; color:#444; }
.sr-progress { height:6px; background:#e4e4ee; border-radius:3px; margin:.3em 0; overflow:hidden; }
.sr-progress > div { height:100%; background:#5b5bd6; transition: width .8s linear; }
.sr-progress-text, .sr-estimate { font-variant-numeric: tabular-nums; }
.sr-spin { display:inline-block; animation: sr-pulse 1.2s ease-in-out infinite; }
@keyframes sr-pulse { 0%,100% { opacity:.3 } 50% { opacity:1 } }
#panel-lr img { width:100%; height:100%; object-fit:contain; }
.sr-strip img, #overview img, .sr-panel img { image-rendering: pixelated; }
.sr-crop-metrics table { font-size:.9em; font-variant-numeric: tabular-nums; margin-top:.4em; }
.sr-crop-metrics td, .sr-crop-metrics th { padding:.15em .6em; text-align:right; }
.sr-crop-metrics td:first-child, .sr-crop-metrics th:first-child { text-align:left; }
.sr-help p { font-size:.9em; color:#444; }
.sr-hint p { font-size:.85em; color:#666; margin:0; }
#status p { margin:0; }
"""
