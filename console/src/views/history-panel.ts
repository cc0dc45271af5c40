// A user's history from the audit log (ListEvents, newest first): the last
// sign-in, the failed sign-ins, and every change, with who made it.
import type { Event } from "../../../gen/users/v1/events_pb.js";
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { busy, h, time, uid } from "../dom.js";
import { describeError } from "../errors.js";

const SHOWN = 50n;

export interface HistoryPanel {
  element: HTMLElement;
  refresh(): Promise<void>;
}

export function historyPanel(app: App, user: () => User): HistoryPanel {
  const headingId = uid("history");
  const body = h("div", { class: "history", "aria-live": "polite" });
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h(
      "div",
      { class: "card-head" },
      h("h3", { id: headingId }, "History"),
      h("button", { type: "button", class: "secondary", onclick: () => void refresh() }, "Refresh"),
    ),
    body,
  );

  const refresh = () =>
    busy(panel, async () => {
      try {
        const { events } = await app.client.listEvents({ userId: user().id, limit: SHOWN });
        body.replaceChildren(...render(events));
      } catch (err) {
        body.replaceChildren(h("p", {}, "The history could not be loaded."));
        app.error(describeError("load the history", err));
      }
    });

  const render = (events: Event[]): Node[] => {
    if (events.length === 0) return [h("p", { class: "empty" }, "No events.")];
    const lastSignIn = events.find((e) => e.type === "session.created");
    const failed = events.filter((e) => e.type === "login.failed").length;
    return [
      h(
        "dl",
        { class: "details" },
        h("dt", {}, "Last sign-in"),
        h("dd", {}, lastSignIn ? time(lastSignIn.created) : "never (in these events)"),
        h("dt", {}, "Failed sign-ins"),
        h("dd", {}, `${failed} of the last ${events.length} events`),
      ),
      h(
        "ol",
        { class: "event-list", "aria-label": "Events, newest first" },
        ...events.map((e) =>
          h(
            "li",
            {},
            time(e.created),
            " ",
            h("strong", {}, e.type),
            " ",
            h("span", { class: "event-data" }, describe(e)),
          ),
        ),
      ),
    ];
  };

  panel.querySelector("h3")?.setAttribute("tabindex", "-1");
  body.append(h("p", {}, "Loading…"));
  void refresh();
  return { element: panel, refresh };
}

/** The event's details and who made it, as text (events hold no secret). */
function describe(e: Event): string {
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(e.data) as Record<string, unknown>;
  } catch {
    // shown without details
  }
  const details = Object.entries(data)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}`)
    .join("; ");
  const by = e.actorKeyId === "" ? "" : ` (key ${e.actorKeyId}${e.actorSession === "" ? "" : ", with a session"})`;
  return `${details}${by}`;
}
