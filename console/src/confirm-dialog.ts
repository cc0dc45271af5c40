// A modal confirmation (native <dialog>: it traps focus and closes on Escape).
// Focus starts on the safe choice and returns to the opener afterwards.
import { h, uid } from "./dom.js";

export interface ConfirmOptions {
  title: string;
  message: string;
  confirmLabel: string;
}

/** Resolves true when the person confirms, false on Cancel or Escape. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
  const titleId = uid("dialog");
  const messageId = `${titleId}-message`;
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const confirm = h("button", { type: "button", class: "danger" }, options.confirmLabel);
  const dialog = h(
    "dialog",
    { "aria-labelledby": titleId, "aria-describedby": messageId },
    h("h2", { id: titleId }, options.title),
    h("p", { id: messageId }, options.message),
    h("div", { class: "actions" }, cancel, confirm),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    let confirmed = false;
    cancel.addEventListener("click", () => dialog.close());
    confirm.addEventListener("click", () => {
      confirmed = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (!confirmed) opener?.focus();
      resolve(confirmed);
    });
    dialog.showModal();
    cancel.focus();
  });
}
