// The pieces the console's account pages share to make a change through the API: an error line and a one-line form.
import { ApiError } from "./account.js";
import { h } from "./dom.js";

/** What a failed call tells the user: the API's own message, or that the mirror did not answer at all. */
export const failure = (err: Error): string =>
  err instanceof ApiError ? err.message : `The mirror did not answer: ${err.message}`;

export interface ErrorLine {
  el: HTMLParagraphElement;
  /** Shows the error (a `.catch` handler). */
  fail: (err: Error) => void;
  hide: () => void;
}

/** A page's error line, hidden until a call fails. */
export function errorLine(): ErrorLine {
  const el = h("p", { class: "form-error", role: "alert", hidden: true });
  return {
    el,
    fail: (err) => {
      el.textContent = failure(err);
      el.hidden = false;
    },
    hide: () => {
      el.hidden = true;
    },
  };
}

/** A one-line form: a labelled input and a submit button. A submit runs `action`; `errors` shows its failure. */
export function inlineForm(
  o: { name: string; label: string; input: HTMLInputElement; submit: string },
  errors: ErrorLine,
  action: () => Promise<unknown>,
): HTMLFormElement {
  const form = h(
    "form",
    { class: "inline-form", "aria-label": o.name },
    h("label", { for: o.input.id }, o.label),
    o.input,
    h("button", { type: "submit", class: "primary" }, o.submit),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    errors.hide();
    action().catch(errors.fail);
  });
  return form;
}
