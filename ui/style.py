"""The UI's stylesheet and the small script behind the [n] markers.

Colours come from Gradio's theme variables so light and dark mode both work.
"""

from __future__ import annotations

__all__ = ["CSS", "SOURCES_JS", "TRANSCRIPT_JS"]

# Runs once per page load with `element` = the transcript's root; the listener is on that
# root, so it survives every re-render of the transcript's content.
TRANSCRIPT_JS = """
const showSource = (turn, n) => {
  const panel = document.querySelector('#pt-sources');
  if (!panel) return;
  panel.querySelectorAll('.pt-turn-sources').forEach((s) => {
    s.hidden = s.dataset.turn !== turn;
  });
  let target = null;
  panel.querySelectorAll('.pt-source').forEach((card) => {
    if (card.dataset.turn !== turn) return;
    const on = n !== null && card.dataset.n === n;
    card.open = on;
    card.classList.toggle('pt-active', on);
    if (on) target = card;
  });
  // .pt-sources is positioned, so offsetTop is measured inside the scrolling panel.
  const scroller = panel.querySelector('.pt-sources');
  const section = panel.querySelector(`.pt-turn-sources[data-turn="${turn}"]`);
  const first = section && section.querySelector('.pt-source');
  const goal = target && target !== first ? target : section;
  if (scroller && goal) scroller.scrollTop = Math.max(goal.offsetTop - 8, 0);
  // On a phone the panel sits below the chat, out of sight: bring the source to the reader.
  const shown = target || section || panel;
  const top = shown.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) {
    shown.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }
};
const copyAnswer = async (button) => {
  const text = button.parentElement.querySelector('.pt-md').value;
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {  // plain HTTP off loopback has no clipboard API
    const box = button.parentElement.querySelector('.pt-md');
    box.hidden = false; box.select(); document.execCommand('copy'); box.hidden = true;
  }
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = 'Copy as Markdown'; }, 1500);
};
const saveCited = (button) => {
  const text = button.nextElementSibling.value;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  link.download = button.dataset.file;
  document.body.appendChild(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
};
element.addEventListener('click', (event) => {
  const copy = event.target.closest('.pt-copy');
  if (copy && element.contains(copy)) { copyAnswer(copy); return; }
  const cited = event.target.closest('.pt-cite-dl');
  if (cited && element.contains(cited)) { saveCited(cited); return; }
  const button = event.target.closest('.pt-cite, .pt-show-sources');
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  element.querySelectorAll('.pt-cite-active').forEach((b) => b.classList.remove('pt-cite-active'));
  if (button.classList.contains('pt-cite')) button.classList.add('pt-cite-active');
  showSource(button.dataset.turn, button.dataset.n ?? null);
});
watch('value', () => {
  const box = element.querySelector('.pt-transcript');
  const last = box && box.lastElementChild;
  if (last) box.scrollTop = Math.max(last.offsetTop - 8, 0);
});
"""

# Opening "Show in document" scrolls the page text into view inside the sources panel.
SOURCES_JS = """
element.addEventListener('toggle', (event) => {
  const context = event.target;
  if (!context.classList || !context.classList.contains('pt-context') || !context.open) return;
  const scroller = element.querySelector('.pt-sources');
  if (scroller) scroller.scrollTop = Math.max(context.offsetTop - 8, 0);
  const page = context.querySelector('.pt-page');
  const passage = page && page.querySelector('.pt-ctx-passage');
  if (passage) page.scrollTop = Math.max(passage.offsetTop - 48, 0);
}, true);
"""

CSS = """
.gradio-container { max-width: 1280px !important; }
.pt-html .html-container { padding: 0 !important; }
#pt-top { align-items: center; }
#pt-header h1 { display: inline; font-size: 1.3rem; margin: 0 12px 0 0; line-height: 1.4; }
#pt-header span { color: var(--body-text-color-subdued); font-size: 0.92rem; }

/* Chat transcript */
.pt-transcript {
  position: relative; height: 380px; overflow-y: auto; padding: 12px;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  background: var(--background-fill-secondary);
}
/* Open settings take room from the transcript, so the page still fits 1280×800. */
#pt-chat-column:has(#pt-settings .label-wrap.open) .pt-transcript { height: 250px; }
.pt-msg { display: flex; margin: 6px 0; }
.pt-user { justify-content: flex-end; }
.pt-bubble {
  max-width: 88%; padding: 8px 12px; border-radius: 12px; line-height: 1.5;
  overflow-wrap: anywhere; white-space: pre-wrap;
  background: var(--background-fill-primary); border: 1px solid var(--border-color-primary);
}
.pt-user .pt-bubble {
  background: var(--color-accent-soft); border-color: transparent; white-space: normal;
}
.pt-abstained { border-left: 4px solid #d97706; white-space: normal; }
.pt-scope.pt-weak {
  display: inline-block; margin-top: 4px; padding: 2px 8px; border-radius: 6px;
  background: #fef3c7; color: #92400e;
}
.pt-cite, .pt-cite-demo {
  display: inline; padding: 0 3px; margin: 0 1px; border: none; border-radius: 4px;
  background: var(--color-accent-soft); color: var(--color-accent); font-weight: 600;
  font-size: 0.85em; cursor: pointer; vertical-align: baseline;
}
.pt-cite:hover, .pt-cite:focus-visible, .pt-cite-active {
  background: var(--color-accent); color: white; outline: none;
}
.pt-show-sources {
  display: inline-block; margin-top: 6px; padding: 2px 8px; cursor: pointer;
  border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--background-fill-secondary); color: var(--body-text-color);
}
.pt-tools { display: flex; justify-content: flex-start; margin: -2px 0 8px; }
.pt-copy, .pt-cite-dl {
  padding: 0 6px; font-size: 0.8em; cursor: pointer; border: none; background: none;
  color: var(--body-text-color-subdued); text-decoration: underline dotted;
}
.pt-copy:hover, .pt-copy:focus-visible, .pt-cite-dl:hover, .pt-cite-dl:focus-visible {
  color: var(--color-accent);
}
#pt-conversations { gap: 8px; }
.pt-scope {
  margin: 4px 0 0; font-size: 0.82em; color: var(--body-text-color-subdued);
  overflow-wrap: anywhere;
}
.pt-answer-notice { margin: 0 0 6px; }
/* Generated answers: each sentence's verdict after it; unsupported ones underlined. */
.pt-verdict {
  display: inline-block; margin-left: 2px; padding: 0 4px; border-radius: 4px;
  font-size: 0.8em; font-weight: 700; cursor: help;
}
.pt-v-supported .pt-verdict { color: #15803d; background: #dcfce7; }
.pt-v-weak .pt-verdict { color: #92400e; background: #fef3c7; }
.pt-v-unsupported .pt-verdict, .pt-v-uncited .pt-verdict { color: #991b1b; background: #fee2e2; }
.pt-v-unsupported { text-decoration: underline wavy #dc2626; }
.pt-v-uncited { text-decoration: underline dotted #dc2626; }
.pt-pending { color: var(--body-text-color-subdued); }
.pt-waiting { color: var(--body-text-color-subdued); font-style: italic; }
.pt-removed { font-size: 0.85em; color: var(--body-text-color-subdued); }
.pt-writing .pt-caret::after { content: "▍"; animation: pt-blink 1s steps(1) infinite; }
@keyframes pt-blink { 50% { opacity: 0; } }
.pt-empty { color: var(--body-text-color-subdued); }
.pt-transcript .pt-empty { padding: 24px 12px; }
.pt-transcript .pt-empty p { margin: 0 0 8px; }
.pt-empty-title { font-weight: 600; color: var(--body-text-color); }
.pt-badge {
  display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 0.8em;
  font-weight: 600; background: #fef3c7; color: #92400e; white-space: nowrap;
}
/* Message slots take no room (and no flex gap) while empty. */
#pt-notice:not(:has(.pt-notice)), #pt-remove-notice:not(:has(.pt-notice)),
#pt-upload-report:not(:has(.pt-report, .pt-notice)) { display: none; }
.pt-notice { padding: 8px 12px; border-radius: 8px; margin: 4px 0; }
.pt-notice-error { background: #fee2e2; color: #991b1b; border: 1px solid #fecaca; }
.pt-notice-info { background: var(--background-fill-secondary); }
#pt-settings input[type=number] { width: 4.5em; min-width: 0; }
#pt-examples { gap: 6px; flex-wrap: wrap; }
#pt-examples button { flex: 0 1 auto !important; min-width: 0 !important; }

/* Sources panel */
.pt-panel-title { margin: 0 0 8px; font-size: 1rem; font-weight: 600; }
.pt-sources {
  height: 580px; overflow-y: auto; overflow-x: hidden; position: relative;
  padding-right: 4px;
}
.pt-sources-for {
  margin: 0 0 6px; font-size: 0.9em; color: var(--body-text-color-subdued); overflow-wrap: anywhere;
}
.pt-insufficient-note {
  margin: 0 0 8px; padding: 6px 10px; border-radius: 6px; background: #fef3c7;
  color: #92400e;
}
.pt-source {
  border: 1px solid var(--border-color-primary); border-radius: 8px; margin: 0 0 8px;
  background: var(--background-fill-primary);
}
.pt-source > summary {
  cursor: pointer; padding: 8px 10px; list-style: none; overflow-wrap: anywhere;
}
.pt-source > summary::-webkit-details-marker { display: none; }
.pt-source.pt-active {
  border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft);
}
.pt-n { font-weight: 700; color: var(--color-accent); }
.pt-title { font-weight: 600; }
.pt-source .pt-badge { margin-left: 6px; }
.pt-where { display: block; font-size: 0.85em; color: var(--body-text-color-subdued); }
.pt-snippet { display: block; font-size: 0.85em; font-style: italic; margin-top: 2px; }
.pt-source[open] .pt-snippet { display: none; }
.pt-passage, .pt-page {
  white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.5; font-size: 0.92em;
}
.pt-passage { margin: 0 10px 6px; padding: 8px 10px; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 4px; }
mark.pt-quote { background: #fde68a; color: #1f2937; padding: 1px 0; border-radius: 2px; }
.pt-file { margin: 0 10px 6px; font-size: 0.8em; color: var(--body-text-color-subdued);
  overflow-wrap: anywhere; }
.pt-context { margin: 0 10px 10px; }
.pt-context > summary { cursor: pointer; color: var(--color-accent); font-size: 0.9em; }
.pt-page {
  position: relative; max-height: 320px; overflow-y: auto; margin-top: 6px; padding: 8px 10px;
  border: 1px dashed var(--border-color-primary); border-radius: 6px;
  color: var(--body-text-color-subdued);
}
.pt-ctx-passage { color: var(--body-text-color); background: var(--color-accent-soft); }

/* Documents tab */
#pt-documents .pt-docs-box { max-height: 420px; overflow-y: auto; }
.pt-doc-count { margin: 0 0 6px; color: var(--body-text-color-subdued); }
.pt-docs { width: 100%; border-collapse: collapse; table-layout: auto; }
.pt-docs th, .pt-docs td {
  text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--border-color-primary);
  vertical-align: top;
}
/* break-word, not anywhere: "anywhere" lets the table squeeze a title to one letter wide
   and split words ("movement|s"); a file name has no spaces, so it may break anywhere. */
.pt-docs .pt-doc-title { overflow-wrap: break-word; hyphens: auto; }
.pt-docs .pt-file { overflow-wrap: anywhere; }
.pt-docs th, .pt-docs td:not(.pt-doc-title) { white-space: nowrap; }
.pt-docs th { position: sticky; top: 0; background: var(--background-fill-primary); }
.pt-docs .pt-num { text-align: right; width: 5em; }
.pt-docs .pt-file { margin: 2px 0 0; }
.pt-report ul { margin: 4px 0 0; padding-left: 0; list-style: none; }
.pt-report li { padding: 4px 8px; margin: 2px 0; border-radius: 6px; overflow-wrap: anywhere; }
.pt-report p { margin: 0; font-weight: 600; }
.pt-ok { background: #dcfce7; color: #166534; }
.pt-warn { background: #fef3c7; color: #92400e; }
.pt-fail { background: #fee2e2; color: #991b1b; }
#pt-confirm { border: 1px solid #fecaca; border-radius: 8px; padding: 8px; background: #fff7f7; }
.pt-pdfpage { position: relative; width: 100%; margin: 0.5em 0;
  border: 1px solid var(--border-color-primary); }
.pt-pdfpage img { position: absolute; inset: 0; width: 100%; height: 100%; }

/* Phone: the question box gets its own line, so its placeholder is not cut off, and the
   date wraps between day and time instead of pushing the table sideways. */
@media (max-width: 640px) {
  #pt-ask-row { flex-wrap: wrap; }
  #pt-question { flex: 1 1 100% !important; min-width: 100% !important; }
  .pt-docs td.pt-added { white-space: normal; }
  .pt-docs th, .pt-docs td { padding: 6px 4px; }
}
.pt-hl { position: absolute; background: rgba(255, 213, 0, 0.38);
  outline: 2px solid rgba(230, 150, 0, 0.9); border-radius: 2px; pointer-events: none; }
"""
