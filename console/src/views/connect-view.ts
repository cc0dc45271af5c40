// First screen: the API key and the namespace. The key is checked with one
// small Search call before the console opens.
import type { App } from "../app.js";
import { clearCredentials, setCredentials } from "../credentials.js";
import { busy, field, h, viewHeading } from "../dom.js";
import { describeError } from "../errors.js";

export function connectView(app: App): HTMLElement {
  const key = field(
    "API key",
    { type: "password", name: "api-key", autocomplete: "off", spellcheck: "false", required: true },
    "Kept only in this tab's memory: never stored or put in the address. Reloading or closing the tab forgets it.",
  );
  const namespace = field(
    "Namespace",
    { type: "text", name: "namespace", autocomplete: "off", spellcheck: "false", value: app.namespace() },
    'Leave empty for the key\'s own namespace ("default" for an admin key).',
  );
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "connect-title", novalidate: true },
    key.wrapper,
    namespace.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Open the console")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (key.input.value.trim() === "") {
      app.error("Enter an API key.");
      key.input.focus();
      return;
    }
    void busy(form, async () => {
      setCredentials({ key: key.input.value.trim(), namespace: namespace.input.value });
      try {
        await app.client.search({ limit: 1n });
      } catch (err) {
        clearCredentials();
        app.error(describeError("open the console with this key", err));
        key.input.focus();
        return;
      }
      key.input.value = "";
      app.showUsers();
    });
  });
  const title = viewHeading("Sign in with an API key");
  title.id = "connect-title";
  return h("section", { class: "view" }, title, form);
}
