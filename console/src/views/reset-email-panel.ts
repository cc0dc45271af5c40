// Mail the user a password reset code (SendPasswordResetEmail, to their email).
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { busy, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function resetEmailPanel(app: App, current: () => User): HTMLElement {
  const headingId = uid("reset-email");
  const button = h("button", { type: "button", class: "secondary" }, "Send password reset email");
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId }, "Password reset email"),
    h("p", { class: "note" }, "Mails the user a code with which they choose a new password themselves."),
    h("div", { class: "actions" }, button),
  );
  button.addEventListener("click", () => {
    app.clearMessages();
    void busy(panel, async () => {
      const user = current();
      try {
        await app.client.sendPasswordResetEmail({ email: user.email });
        app.status(`A password reset email was sent to ${user.email}.`);
      } catch (err) {
        app.error(describeError(`send a password reset email to ${user.email}`, err));
      }
    });
  });
  return panel;
}
