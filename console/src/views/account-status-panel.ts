// Disable or enable a user's account (DisableUser / EnableUser), after a
// confirmation. Disabling ends every session of the user at once.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { confirmDialog } from "../confirm-dialog.js";
import { busy, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export interface AccountStatusPanel {
  element: HTMLElement;
  /** Shows the button that fits the user as they are now. */
  update(): void;
}

export function accountStatusPanel(app: App, current: () => User, onChanged: () => Promise<void>): AccountStatusPanel {
  const headingId = uid("status");
  const note = h("p", { class: "note" });
  const button = h("button", { type: "button" });
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId }, "Account status"),
    note,
    h("div", { class: "actions" }, button),
  );
  const update = () => {
    const user = current();
    note.textContent = user.disabled
      ? `${user.username} is disabled: they cannot sign in. Enabling lets them sign in again.`
      : `${user.username} is enabled. Disabling stops them signing in and ends every session.`;
    button.textContent = user.disabled ? "Enable user…" : "Disable user…";
    button.className = user.disabled ? "" : "danger";
  };
  button.addEventListener("click", () => {
    void busy(panel, async () => {
      const user = current();
      const enable = user.disabled;
      const confirmed = await confirmDialog(
        enable
          ? {
              title: `Enable user ${user.username}?`,
              message: `${user.username} (${user.email}) will be able to sign in again.`,
              confirmLabel: "Enable user",
            }
          : {
              title: `Disable user ${user.username}?`,
              message: `${user.username} (${user.email}) will not be able to sign in, and every session will end.`,
              confirmLabel: "Disable user",
            },
      );
      if (!confirmed) return;
      app.clearMessages();
      try {
        if (enable) await app.client.enableUser({ id: user.id });
        else await app.client.disableUser({ id: user.id });
      } catch (err) {
        app.error(describeError(`${enable ? "enable" : "disable"} user ${user.username}`, err));
        button.focus();
        return;
      }
      await onChanged();
      app.status(
        enable
          ? `User ${user.username} was enabled.`
          : `User ${user.username} was disabled; their sessions were ended.`,
      );
      button.focus();
    });
  });
  update();
  return { element: panel, update };
}
