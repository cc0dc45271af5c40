// The page frame: the header's connection bar, the live regions and the main
// area that views replace. Focus moves to each new view's heading, so
// keyboard and screen-reader users start at the top of what just appeared.
import { h } from "./dom.js";

export interface Shell {
  show(view: HTMLElement): void;
  error(text: string): void;
  status(text: string): void;
  clearMessages(): void;
  /** Shows which namespace the console works in, with a button to forget the key; undefined hides it. */
  setConnection(namespace: string | undefined, onForget: () => void): void;
}

export function createShell(): Shell {
  const main = required("main");
  const errorRegion = required("error");
  const statusRegion = required("status");
  const connection = required("connection");

  const clearMessages = () => {
    errorRegion.replaceChildren();
    statusRegion.replaceChildren();
  };
  return {
    show(view) {
      clearMessages();
      main.replaceChildren(view);
      (view.querySelector<HTMLElement>(".view-title") ?? main).focus();
    },
    error(text) {
      statusRegion.replaceChildren();
      errorRegion.replaceChildren(h("p", {}, text));
    },
    status(text) {
      statusRegion.replaceChildren(h("p", {}, text));
    },
    clearMessages,
    setConnection(namespace, onForget) {
      if (namespace === undefined) return void connection.replaceChildren();
      connection.replaceChildren(
        h("span", {}, "Namespace: ", h("strong", { class: "namespace" }, namespace || "(the key's own)")),
        h("button", { type: "button", class: "secondary", onclick: onForget }, "Forget key"),
      );
    },
  };
}

function required(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el;
}
