// AURA widget: the styles of its shadow root. `:host { all: initial }` stops the page's
// inherited styles (fonts, colours, line height) from reaching in; shadow DOM keeps ours in.

export const STYLES = `
:host {
  all: initial;
  position: fixed;
  z-index: 2147483000;
  bottom: 20px;
  right: 20px;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f;
  --aura-accent: #4f46e5;
  --aura-accent-text: #ffffff;
  --aura-surface: #ffffff;
  --aura-muted: #6e6e73;
}
:host([position="bottom-left"]) { right: auto; left: 20px; }
* { box-sizing: border-box; }
button {
  font: inherit;
  cursor: pointer;
  border: none;
  border-radius: 999px;
}
button:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.launcher {
  display: flex;
  align-items: center;
  gap: 8px;
  margin-left: auto;
  padding: 12px 18px;
  background: var(--aura-accent);
  color: var(--aura-accent-text);
  box-shadow: 0 6px 20px rgba(0, 0, 0, 0.2);
  font-weight: 600;
}
:host([position="bottom-left"]) .launcher { margin-left: 0; }
.launcher svg { width: 20px; height: 20px; fill: currentColor; }
.panel {
  width: min(360px, calc(100vw - 40px));
  margin-bottom: 12px;
  background: var(--aura-surface);
  border-radius: 16px;
  box-shadow: 0 12px 40px rgba(0, 0, 0, 0.25);
  overflow: hidden;
  display: flex;
  flex-direction: column;
}
.panel[hidden] { display: none; }
header {
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 8px;
  padding: 12px 16px;
  background: var(--aura-accent);
  color: var(--aura-accent-text);
}
.title { font-weight: 600; }
.state {
  font-size: 13px;
  padding: 2px 10px;
  border-radius: 999px;
  background: rgba(255, 255, 255, 0.2);
  white-space: nowrap;
}
.state-indicator {
  display: inline-block;
  width: 8px;
  height: 8px;
  margin-right: 6px;
  border-radius: 50%;
  background: currentColor;
  vertical-align: middle;
}
.panel[data-state="user-speaking"] .state-indicator,
.panel[data-state="speaking"] .state-indicator { animation: pulse 0.9s ease-in-out infinite; }
.panel[data-state="error"] .state { background: #b91c1c; }
@keyframes pulse { 50% { opacity: 0.3; } }
@media (prefers-reduced-motion: reduce) {
  .panel .state-indicator { animation: none !important; }
}
.meter {
  height: 4px;
  background: #e5e7eb;
}
.meter-bar {
  height: 100%;
  width: 0%;
  background: #10b981;
  transition: width 60ms linear;
}
.transcript {
  list-style: none;
  margin: 0;
  padding: 12px 16px;
  height: 260px;
  overflow-y: auto;
  display: flex;
  flex-direction: column;
  gap: 8px;
}
.transcript:empty::before {
  content: "Say hello: the assistant is listening once the light is on.";
  color: var(--aura-muted);
  font-size: 14px;
}
.message {
  max-width: 85%;
  padding: 8px 12px;
  border-radius: 14px;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
.message[data-role="user"] {
  align-self: flex-end;
  background: #eef2ff;
  border-bottom-right-radius: 4px;
}
.message[data-role="assistant"] {
  align-self: flex-start;
  background: #f3f4f6;
  border-bottom-left-radius: 4px;
}
.message[data-role="system"] {
  align-self: center;
  background: none;
  color: var(--aura-muted);
  font-size: 13px;
}
.message[data-pending="true"] .text { color: var(--aura-muted); }
.message[data-cut="true"] .text::after { content: " \\2014"; }
.cut-note {
  display: block;
  font-size: 12px;
  color: var(--aura-muted);
}
.sr-only {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
}
footer {
  display: flex;
  gap: 8px;
  padding: 10px 16px 14px;
  border-top: 1px solid #e5e7eb;
}
footer button {
  flex: 1;
  padding: 9px 12px;
  background: #f3f4f6;
  color: #1d1d1f;
}
footer button[aria-pressed="true"] { background: #fde68a; }
footer .end { background: #fee2e2; color: #991b1b; }
footer button:disabled { opacity: 0.5; cursor: default; }
.typing {
  display: flex;
  gap: 8px;
  padding: 8px 16px 0;
}
.typing[hidden], .rating[hidden] { display: none; }
.typing input, .rating .comment {
  flex: 1;
  min-width: 0;
  padding: 8px 10px;
  border: 1px solid #d1d5db;
  border-radius: 8px;
  font: inherit;
}
.typing input:focus-visible, .rating .comment:focus-visible { outline: 3px solid #f59e0b; outline-offset: 1px; }
.typing .send { padding: 8px 12px; background: #2f6fb0; color: #fff; }
.typing .send:disabled { opacity: 0.5; }
.rating { padding: 10px 16px 0; display: grid; gap: 8px; }
.rating-question { margin: 0; font-weight: 600; }
.rating-choices, .rating-actions { display: flex; gap: 8px; }
.rating-choices button { font-size: 20px; padding: 4px 14px; background: #f3f4f6; }
.rating-choices button[aria-pressed="true"] { background: #bfdbfe; }
.rating-actions button { flex: 1; padding: 8px 12px; background: #f3f4f6; }
.rating-send { background: #2f6fb0 !important; color: #fff; }
.rating-send:disabled { opacity: 0.5; }
.thumbs { display: inline-flex; gap: 2px; margin-left: 6px; opacity: 0.45; }
.message:hover .thumbs, .thumbs:focus-within, .thumbs:has([aria-pressed="true"]) { opacity: 1; }
.thumb { padding: 0 4px; font-size: 13px; background: transparent; line-height: 1.4; }
.thumb[aria-pressed="true"] { background: #dbeafe; }
`;
