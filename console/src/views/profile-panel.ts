// A user's profile (key/value pairs, User.profile): list them, add or change
// one, remove one (Update with an empty value removes a key).
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { busy, field, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export interface ProfilePanel {
  element: HTMLElement;
  /** Lists the profile of the user as they are now. */
  update(): void;
}

export function profilePanel(app: App, current: () => User, onSaved: (user: User) => void): ProfilePanel {
  const headingId = uid("profile");
  const list = h("div", { class: "profile", "aria-live": "polite" });
  const key = field("Key", { type: "text", name: "profile-key", autocomplete: "off", spellcheck: "false" });
  const value = field("Value", { type: "text", name: "profile-value", autocomplete: "off" });
  const form = h(
    "form",
    { novalidate: true },
    key.wrapper,
    value.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save entry")),
  );
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId, tabindex: "-1" }, "Profile"),
    list,
    h("p", { class: "note" }, "Add an entry, or change one by giving its key."),
    form,
  );

  const save = (entries: Record<string, string>, done: string, action: string) =>
    busy(panel, async () => {
      app.clearMessages();
      try {
        const { user } = await app.client.update({ id: current().id, profile: entries });
        if (!user) throw new Error("the service returned no user");
        onSaved(user);
        update();
        app.status(done);
        return;
      } catch (err) {
        app.error(describeError(action, err));
      }
    });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const k = key.input.value.trim();
    if (k === "") {
      app.clearMessages();
      app.error("Give the entry a key.");
      key.input.focus();
      return;
    }
    if (value.input.value === "") {
      app.clearMessages();
      app.error("Give the entry a value (remove an entry with its Remove button).");
      value.input.focus();
      return;
    }
    void save({ [k]: value.input.value }, `Profile entry "${k}" was saved.`, `save profile entry "${k}"`).then(() => {
      if (current().profile[k] === value.input.value) form.reset();
    });
  });

  const update = () => {
    const entries = Object.entries(current().profile).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length === 0) {
      list.replaceChildren(h("p", { class: "empty" }, "No profile entries."));
      return;
    }
    list.replaceChildren(
      h(
        "ul",
        { class: "profile-list" },
        ...entries.map(([k, v]) =>
          h(
            "li",
            {},
            h("span", {}, h("code", {}, k), ": ", v),
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": `Remove profile entry ${k}`,
                onclick: () =>
                  void save({ [k]: "" }, `Profile entry "${k}" was removed.`, `remove profile entry "${k}"`).then(() =>
                    panel.querySelector<HTMLElement>("h3")?.focus(),
                  ),
              },
              "Remove",
            ),
          ),
        ),
      ),
    );
  };
  update();
  return { element: panel, update };
}
