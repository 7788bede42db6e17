// Klaxon's page behaviour, in one static file: the Content-Security-Policy allows no
// inline script and no inline event handler (onclick=, onchange=, onsubmit=). Pages ask
// for behaviour with data attributes instead:
//   <button data-copy="element-id">        copy that element's text
//   <select data-autosubmit>               submit the form when the choice changes
//   <form data-confirm="Really?">          ask before submitting
"use strict";

(() => {
  // "Copy" buttons. The Clipboard API exists only on https (or localhost); elsewhere the
  // text is selected so the user can copy it.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    const source = button && document.getElementById(button.dataset.copy);
    if (!source) return;
    const label = button.dataset.label || (button.dataset.label = button.textContent);
    const say = (text) => {
      button.textContent = text;
      setTimeout(() => { button.textContent = label; }, 2500);
    };
    const select = () => {
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      say("Selected: copy it now");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => say("Copied"), select);
    } else {
      select();
    }
  });

  // Filters that apply as soon as they change (the form still has no submit button to
  // press; without JavaScript, Enter submits it).
  document.addEventListener("change", (event) => {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit();
  });

  // Destructive buttons ask first.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  // ------------------------------------------------------------ the incident list
  // On a phone the on-call panel starts folded, so the incidents come first.
  const panel = document.getElementById("oncall-panel");
  if (panel && window.matchMedia("(max-width: 600px)").matches) panel.open = false;

  // "Select all" ticks every triggered incident on this page.
  document.addEventListener("change", (event) => {
    if (event.target.id !== "pick-all") return;
    for (const box of document.querySelectorAll('input[name="incident"][form="bulk-ack"]')) {
      box.checked = event.target.checked;
    }
  });

  // A button that could not act, or a poll that failed, says so instead of nothing.
  const problem = document.getElementById("incident-error");
  if (problem) {
    const say = (text) => { problem.textContent = text; problem.hidden = !text; };
    document.body.addEventListener("htmx:responseError", (event) => {
      const status = event.detail.xhr.status;
      say(status === 403 ? "You are not allowed to do that: it needs the responder role."
        : `That did not work (the server answered ${status}). Reload the page and try again.`);
    });
    document.body.addEventListener("htmx:sendError", () => {
      say("Klaxon cannot be reached: this list is not updating. It keeps trying.");
    });
    document.body.addEventListener("htmx:afterRequest", (event) => {
      if (event.detail.successful && event.detail.elt.id === "incident-poller") say("");
    });
  }
})();
