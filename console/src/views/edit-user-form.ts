// Change a user's username and/or email (the Update RPC).
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { busy, field, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function editUserForm(app: App, user: User, onSaved: (user: User) => void): HTMLElement {
  const headingId = uid("edit");
  const username = field("Username", {
    type: "text",
    name: "username",
    autocomplete: "off",
    spellcheck: "false",
    value: user.username,
  });
  const email = field("Email", {
    type: "email",
    name: "email",
    autocomplete: "off",
    spellcheck: "false",
    value: user.email,
  });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": headingId, novalidate: true },
    h("h3", { id: headingId }, "Edit"),
    username.wrapper,
    email.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save changes")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    app.clearMessages();
    void busy(form, async () => {
      try {
        const { user: saved } = await app.client.update({
          id: user.id,
          username: username.input.value.trim(),
          email: email.input.value.trim(),
        });
        if (!saved) throw new Error("the service returned no user");
        username.input.value = saved.username;
        email.input.value = saved.email;
        onSaved(saved);
        app.status(`Saved: ${saved.username}, ${saved.email}.`);
      } catch (err) {
        app.error(describeError("save the changes", err));
      }
    });
  });
  return form;
}
