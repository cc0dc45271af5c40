// A user's live sessions (ListSessions), each revocable by its handle, or all
// at once (RevokeSessions). Handles identify sessions but cannot sign in.
import type { SessionInfo, User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { unixSecondsLabel } from "../dates.js";
import { busy, h, time, uid } from "../dom.js";
import { describeError } from "../errors.js";

export interface SessionsPanel {
  element: HTMLElement;
  refresh(): Promise<void>;
}

export function sessionsPanel(app: App, user: () => User): SessionsPanel {
  const headingId = uid("sessions");
  const list = h("div", { class: "sessions", "aria-live": "polite" });
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h(
      "div",
      { class: "card-head" },
      h("h3", { id: headingId }, "Sessions"),
      h("button", { type: "button", class: "secondary", onclick: () => void refresh() }, "Refresh"),
    ),
    list,
  );

  const refresh = () =>
    busy(panel, async () => {
      try {
        const { sessions } = await app.client.listSessions({ userId: user().id });
        list.replaceChildren(...render(sessions));
      } catch (err) {
        list.replaceChildren(h("p", {}, "The sessions could not be loaded."));
        app.error(describeError("list the sessions", err));
      }
    });

  const revoke = (handles: string[]) =>
    busy(panel, async () => {
      app.clearMessages();
      try {
        const { revoked } = await app.client.revokeSessions({ userId: user().id, handles });
        app.status(revoked === 1n ? "1 session was ended." : `${revoked} sessions were ended.`);
      } catch (err) {
        app.error(describeError(handles.length === 0 ? "revoke all sessions" : "revoke the session", err));
      }
    }).then(async () => {
      await refresh();
      // The row's button is gone: keep keyboard focus in the panel.
      panel.querySelector<HTMLElement>("h3")?.focus();
    });

  const render = (sessions: SessionInfo[]): Node[] => {
    if (sessions.length === 0) return [h("p", { class: "empty" }, "No live sessions.")];
    return [
      h(
        "ul",
        { class: "session-list" },
        ...sessions.map((s) =>
          h(
            "li",
            {},
            h(
              "span",
              {},
              "Started ",
              time(s.created),
              ", expires ",
              time(s.expires),
              " ",
              h("code", { title: s.handle }, s.handle.slice(0, 12)),
            ),
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": `Revoke the session started ${unixSecondsLabel(s.created).text} (${s.handle.slice(0, 12)})`,
                onclick: () => void revoke([s.handle]),
              },
              "Revoke",
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => void revoke([]) }, "Revoke all sessions"),
      ),
    ];
  };

  panel.querySelector("h3")?.setAttribute("tabindex", "-1");
  list.append(h("p", {}, "Loading…"));
  void refresh();
  return { element: panel, refresh };
}
