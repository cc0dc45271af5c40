// Delete a user (the Delete RPC), after a confirmation.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { confirmDialog } from "../confirm-dialog.js";
import { busy, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function deleteUserPanel(app: App, current: () => User): HTMLElement {
  const headingId = uid("delete");
  const button = h("button", { type: "button", class: "danger" }, "Delete user…");
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId }, "Delete"),
    h("p", { class: "note" }, "Removes the user with their password and every session. It cannot be undone."),
    h("div", { class: "actions" }, button),
  );
  button.addEventListener("click", () => {
    void busy(panel, async () => {
      const user = current();
      const confirmed = await confirmDialog({
        title: `Delete user ${user.username}?`,
        message: `${user.username} (${user.email}) will be removed with their password and every session. This cannot be undone.`,
        confirmLabel: "Delete user",
      });
      if (!confirmed) return;
      app.clearMessages();
      try {
        await app.client.delete({ id: user.id });
      } catch (err) {
        app.error(describeError(`delete user ${user.username}`, err));
        button.focus();
        return;
      }
      app.showUsers();
      app.status(`User ${user.username} was deleted.`);
    });
  });
  return panel;
}
