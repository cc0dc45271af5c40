// One user: details, and the panels that edit, change the password, show
// and revoke sessions, show and remove passkeys, show the history, and delete.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { h, time, viewHeading } from "../dom.js";
import { describeError } from "../errors.js";
import { deleteUserPanel } from "./delete-user-panel.js";
import { editUserForm } from "./edit-user-form.js";
import { historyPanel } from "./history-panel.js";
import { mfaPanel } from "./mfa-panel.js";
import { passkeysPanel } from "./passkeys-panel.js";
import { passwordForm } from "./password-form.js";
import { sessionsPanel } from "./sessions-panel.js";

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
      const show = (u: User) => {
        current = u;
        title.textContent = `User ${u.username}`;
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
      body.replaceChildren(
        details,
        editUserForm(app, user, show),
        // A new password ends every session: show that at once.
        passwordForm(app, now, () => void sessions.refresh()),
        sessions.element,
        passkeysPanel(app, now),
        historyPanel(app, now).element,
        mfaPanel(app, now),
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
