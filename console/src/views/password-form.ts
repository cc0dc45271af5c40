// Change a password with the current one (the UpdatePassword RPC). An admin
// sets one without it in set-password-form (SetPassword).
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { busy, field, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function passwordForm(app: App, user: () => User, onChanged: () => void): HTMLElement {
  const headingId = uid("password");
  const attrs = { type: "password", autocomplete: "off" } as const;
  const current = field("Current password", { ...attrs, name: "old-password" });
  const next = field("New password", { ...attrs, name: "new-password" }, "At least 8 characters, at most 72 bytes.");
  const confirm = field("New password again", { ...attrs, name: "confirm-password" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": headingId, novalidate: true },
    h("h3", { id: headingId }, "Password"),
    h(
      "p",
      { class: "note" },
      "Changes the password given the current one; for a forgotten one, use Set password (admin) or the reset email. ",
      "Changing it signs the user out of every session.",
    ),
    current.wrapper,
    next.wrapper,
    confirm.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Set new password")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    app.clearMessages();
    void busy(form, async () => {
      try {
        await app.client.updatePassword({
          userId: user().id,
          oldPassword: current.input.value,
          newPassword: next.input.value,
          confirmPassword: confirm.input.value,
        });
        form.reset();
        onChanged();
        app.status(`The password of ${user().username} was changed; their sessions were ended.`);
      } catch (err) {
        app.error(describeError("set the new password", err));
      }
    });
  });
  return form;
}
