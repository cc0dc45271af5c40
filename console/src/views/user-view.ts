// One user: details (with the verified and disabled badges), and the panels
// that edit, change or set the password, mail a reset code, edit the profile,
// show and revoke sessions, sign out everywhere, show and remove passkeys,
// show the history, disable or enable, and delete.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { h, time, viewHeading } from "../dom.js";
import { describeError } from "../errors.js";
import { accountStatusPanel } from "./account-status-panel.js";
import { deleteUserPanel } from "./delete-user-panel.js";
import { editUserForm } from "./edit-user-form.js";
import { historyPanel } from "./history-panel.js";
import { logoutAllPanel } from "./logout-all-panel.js";
import { mfaPanel } from "./mfa-panel.js";
import { passkeysPanel } from "./passkeys-panel.js";
import { passwordForm } from "./password-form.js";
import { profilePanel } from "./profile-panel.js";
import { resetEmailPanel } from "./reset-email-panel.js";
import { sessionsPanel } from "./sessions-panel.js";
import { setPasswordForm } from "./set-password-form.js";

export function userView(app: App, id: string): HTMLElement {
  const title = viewHeading("User");
  const body = h("div", { class: "user-body", "aria-busy": "true" }, h("p", {}, "Loading…"));
  const view = h(
    "section",
    { class: "view" },
    h("button", { type: "button", class: "link back", onclick: () => app.showUsers() }, "← Back to users"),
    title,
    body,
  );

  void (async () => {
    try {
      const { user } = await app.client.read({ id });
      if (!user) throw new Error("the service returned no user");
      const details = h("dl", { class: "details" });
      // Panels read the user as it is now, so an edit shows in their messages and the delete dialog.
      let current = user;
      const badges = h("p", { class: "badges" });
      const show = (u: User) => {
        current = u;
        title.textContent = `User ${u.username}`;
        badges.replaceChildren(
          u.verified
            ? h("span", { class: "badge ok" }, "Verified ", time(u.verificationDate))
            : h("span", { class: "badge" }, "Not verified"),
          ...(u.disabled ? [h("span", { class: "badge danger" }, "Disabled")] : []),
        );
        details.replaceChildren(
          ...entry("Id", h("code", {}, u.id)),
          ...entry("Username", u.username),
          ...entry("Email", u.email),
          ...entry("Created", time(u.created)),
          ...entry("Updated", time(u.updated)),
        );
      };
      show(user);
      const now = () => current;
      const sessions = sessionsPanel(app, now);
      const profile = profilePanel(app, now, show);
      const reload = async () => {
        try {
          const { user: fresh } = await app.client.read({ id });
          if (fresh) show(fresh);
        } catch (err) {
          app.error(describeError(`reload user "${id}"`, err));
        }
        status.update();
        profile.update();
        await sessions.refresh();
      };
      // Disabling ends every session: the sessions panel shows that too.
      const status = accountStatusPanel(app, now, reload);
      body.replaceChildren(
        badges,
        details,
        editUserForm(app, user, (u) => {
          show(u);
          profile.update();
        }),
        profile.element,
        // A new password ends every session: show that at once.
        passwordForm(app, now, () => void sessions.refresh()),
        setPasswordForm(app, now, () => void sessions.refresh()),
        resetEmailPanel(app, now),
        sessions.element,
        logoutAllPanel(app, now, () => void sessions.refresh()),
        passkeysPanel(app, now),
        mfaPanel(app, now),
        historyPanel(app, now).element,
        status.element,
        deleteUserPanel(app, now),
      );
    } catch (err) {
      body.replaceChildren(h("p", {}, "This user could not be loaded."));
      app.error(describeError(`open user "${id}"`, err));
    } finally {
      body.removeAttribute("aria-busy");
    }
  })();
  return view;
}

function entry(term: string, value: Node | string): Node[] {
  return [h("dt", {}, term), h("dd", {}, value)];
}
