// AURA voice widget: embed with
//
//   <script type="module" src="https://<your AURA host>/static/aura/widget.js"
//           data-key="pk_…" data-agent="support"></script>
//
// It defines <aura-voice-widget> and adds one to the page for each script tag that loaded
// it, configured from the tag's data-* attributes (docs/widget/embedding.md lists them).
// Plain ES modules, no build step; everything renders inside a shadow root.

import { AuraVoiceWidget } from "./element.js";

const TAG = "aura-voice-widget";
// data-* attribute of the script tag -> attribute of the element.
const OPTIONS = {
  key: "key",
  agent: "agent",
  user: "user",
  server: "server",
  assistantName: "assistant-name",
  position: "position",
};

if (!customElements.get(TAG)) customElements.define(TAG, AuraVoiceWidget);

function loadedByThisModule(script) {
  try {
    return new URL(script.src, document.baseURI).href === import.meta.url;
  } catch {
    return false;
  }
}

function mount(script) {
  if (script.dataset.auraMounted) return;
  script.dataset.auraMounted = "true";
  const widget = document.createElement(TAG);
  for (const [dataName, attribute] of Object.entries(OPTIONS)) {
    const value = script.dataset[dataName];
    if (value) widget.setAttribute(attribute, value);
  }
  document.body.append(widget);
}

// Module scripts run after the document is parsed, so the body is there.
for (const script of document.querySelectorAll("script[src]")) {
  if (loadedByThisModule(script)) mount(script);
}

export { AuraVoiceWidget };
