// Sign a user out everywhere (LogoutAll): every session ends at once.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { confirmDialog } from "../confirm-dialog.js";
import { busy, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function logoutAllPanel(app: App, current: () => User, onDone: () => void): HTMLElement {
  const headingId = uid("logout-all");
  const button = h("button", { type: "button", class: "danger" }, "Sign out everywhere…");
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId }, "Sign out everywhere"),
    h("p", { class: "note" }, "Ends every session of the user; they can sign in again."),
    h("div", { class: "actions" }, button),
  );
  button.addEventListener("click", () => {
    void busy(panel, async () => {
      const user = current();
      const confirmed = await confirmDialog({
        title: `Sign ${user.username} out everywhere?`,
        message: `Every session of ${user.username} (${user.email}) will end.`,
        confirmLabel: "Sign out everywhere",
      });
      if (!confirmed) return;
      app.clearMessages();
      try {
        const { revoked } = await app.client.logoutAll({ userId: user.id });
        app.status(
          `${user.username} was signed out everywhere: ${revoked === 1n ? "1 session" : `${revoked} sessions`} ended.`,
        );
      } catch (err) {
        app.error(describeError(`sign ${user.username} out everywhere`, err));
      }
      onDone();
      button.focus();
    });
  });
  return panel;
}
