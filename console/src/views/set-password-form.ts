// An administrator sets a user's password without the current one
// (SetPassword): for a user who forgot it. Every session of the user ends.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { busy, field, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function setPasswordForm(app: App, user: () => User, onChanged: () => void): HTMLElement {
  const headingId = uid("set-password");
  const attrs = { type: "password", autocomplete: "new-password" } as const;
  const next = field(
    "New password",
    { ...attrs, name: "admin-new-password" },
    "At least 8 characters, at most 72 bytes.",
  );
  const confirm = field("New password again", { ...attrs, name: "admin-confirm-password" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": headingId, novalidate: true },
    h("h3", { id: headingId }, "Set password (admin)"),
    h(
      "p",
      { class: "note" },
      "Sets a new password without the current one, for a user who forgot it. ",
      "It signs the user out of every session.",
    ),
    next.wrapper,
    confirm.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Set password")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    app.clearMessages();
    if (next.input.value !== confirm.input.value) {
      app.error("The two new passwords differ.");
      confirm.input.focus();
      return;
    }
    void busy(form, async () => {
      try {
        await app.client.setPassword({ userId: user().id, newPassword: next.input.value });
        form.reset();
        onChanged();
        app.status(`The password of ${user().username} was set; their sessions were ended.`);
      } catch (err) {
        app.error(describeError("set the password", err));
      }
    });
  });
  return form;
}
