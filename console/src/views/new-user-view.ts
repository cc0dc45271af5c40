// Create a user (the Create RPC); on success, open it.
import type { App } from "../app.js";
import { busy, field, h, viewHeading } from "../dom.js";
import { describeError } from "../errors.js";

export function newUserView(app: App): HTMLElement {
  const text = { type: "text", autocomplete: "off", spellcheck: "false" } as const;
  const username = field(
    "Username",
    { ...text, name: "username", required: true },
    "1–39 letters and digits; single - or _ between them.",
  );
  const email = field("Email", { ...text, type: "email", name: "email", required: true });
  const password = field(
    "Password",
    { type: "password", name: "password", autocomplete: "off", required: true },
    "At least 8 characters, at most 72 bytes.",
  );
  const id = field("Id (optional)", { ...text, name: "id" }, "Leave empty to have one generated.");
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "new-user-title", novalidate: true },
    username.wrapper,
    email.wrapper,
    password.wrapper,
    id.wrapper,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Create user"),
      h("button", { type: "button", class: "secondary", onclick: () => app.showUsers() }, "Cancel"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    app.clearMessages();
    void busy(form, async () => {
      try {
        const { user } = await app.client.create({
          id: id.input.value.trim(),
          username: username.input.value.trim(),
          email: email.input.value.trim(),
          password: password.input.value,
        });
        if (!user) throw new Error("the service returned no user");
        app.showUser(user.id);
        app.status(`User ${user.username} was created.`);
      } catch (err) {
        app.error(describeError("create the user", err));
      }
    });
  });
  const title = viewHeading("New user");
  title.id = "new-user-title";
  return h("section", { class: "view" }, title, form);
}
