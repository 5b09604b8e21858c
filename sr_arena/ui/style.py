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
.sr-twin { font-size:.85em; color:#5b2a86; background:#f6f0fb; border-left:3px solid #5b2a86; padding:.2em .5em;
           margin-top:.2em; }
.sr-input-info { font-size:.9em; padding:.35em .6em; border:1px solid #d6d6e0; border-radius:6px; background:#fafafe;
                 overflow-wrap:anywhere; }
.sr-input-info[data-state="empty"] { color:#666; }
/* Projector mode: tiles are magnification × the crop on screen (at most the page width), wrapping into a grid. */
.sr-zoom { display:flex; flex-wrap:wrap; gap:12px; align-items:flex-start; outline:none; }
.sr-zoom:focus-visible { outline:2px dashed #5b5bd6; outline-offset:4px; }
.sr-zoom.sr-grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(min(100%, var(--tile-w, 192px)), max-content)); }
.sr-tile { margin:0; max-width:100%; min-width:min(100%, 11em); width:max-content; }
.sr-tile img { display:block; width:var(--tile-w); max-width:100%; height:auto; image-rendering:pixelated;
               background:#000; }
.sr-tile figcaption { font-size:.95em; line-height:1.35; margin-top:.25em; white-space:normal; overflow:visible;
                      overflow-wrap:anywhere; max-width:max(var(--tile-w), 11em); }
.sr-zoom.sr-grid .sr-tile { width:auto; }
.sr-arrows { gap:.3em !important; }
.sr-arrows button { font-size:1.1em; }
/* A panel's fullscreen: the picture at an integer scale (1:1 when it is large), nearest neighbour, on black. */
:fullscreen:has(img), :fullscreen .image-container, :fullscreen .image-frame { background:#000 !important; }
img.sr-true-scale { image-rendering:pixelated !important; max-width:none !important; max-height:none !important;
                    object-fit:none !important; }
"""

#: Page behaviour, installed once by the zoom strip's ``js_on_load``: the arrow keys press the crop's arrow
#: buttons while the focus is in the zoom section, and a fullscreen panel is drawn at an integer scale
#: (the largest that fits, 1:1 for a large image) with nearest neighbour.
PAGE_JS = """
if (!window.srArenaPage) {
  window.srArenaPage = true;
  const keys = {ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down'};
  document.addEventListener('keydown', (event) => {
    const direction = keys[event.key];
    const zoom = document.getElementById('zoom');
    const target = event.target;
    if (!direction || !zoom || !zoom.contains(target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (target.closest('input, textarea, select, [role=slider], [contenteditable=true]')) return;
    const button = document.getElementById('crop-' + direction);
    if (!button) return;
    event.preventDefault();
    button.click();
  });
  const fit = () => {
    document.querySelectorAll('img.sr-true-scale').forEach((img) => {
      img.classList.remove('sr-true-scale'); img.style.width = ''; img.style.height = ''; delete img.dataset.scale;
    });
    const shown = document.fullscreenElement;
    const img = shown && (shown.tagName === 'IMG' ? shown : shown.querySelector('img'));
    if (!img || !img.naturalWidth) return;
    const scale = Math.max(1, Math.floor(Math.min(window.innerWidth / img.naturalWidth,
                                                  window.innerHeight / img.naturalHeight)));
    img.classList.add('sr-true-scale');
    img.dataset.scale = String(scale);
    img.style.width = (img.naturalWidth * scale) + 'px';
    img.style.height = (img.naturalHeight * scale) + 'px';
  };
  document.addEventListener('fullscreenchange', fit);
  window.addEventListener('resize', () => { if (document.fullscreenElement) fit(); });
}
"""
