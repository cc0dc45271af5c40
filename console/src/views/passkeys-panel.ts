// A user's passkeys (ListPasskeys), each removable by an admin (RemovePasskey):
// the way out for a user who lost the device holding one. A removed passkey
// no longer signs in.
import type { Passkey } from "../../../gen/users/v1/passkeys_pb.js";
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { confirmDialog } from "../confirm-dialog.js";
import { busy, h, time, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function passkeysPanel(app: App, user: () => User): HTMLElement {
  const headingId = uid("passkeys");
  const list = h("div", { class: "passkeys", "aria-live": "polite" });
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h(
      "div",
      { class: "card-head" },
      h("h3", { id: headingId }, "Passkeys"),
      h("button", { type: "button", class: "secondary", onclick: () => void refresh() }, "Refresh"),
    ),
    list,
  );

  const refresh = () =>
    busy(panel, async () => {
      try {
        const { passkeys } = await app.client.listPasskeys({ userId: user().id });
        list.replaceChildren(...render(passkeys));
      } catch (err) {
        list.replaceChildren(h("p", {}, "The passkeys could not be loaded."));
        app.error(describeError("list the passkeys", err));
      }
    });

  const remove = async (passkey: Passkey) => {
    const confirmed = await confirmDialog({
      title: `Remove the passkey "${passkey.name}"?`,
      message: `${user().username} will no longer be able to sign in with it.`,
      confirmLabel: "Remove passkey",
    });
    if (!confirmed) return;
    await busy(panel, async () => {
      app.clearMessages();
      try {
        await app.client.removePasskey({ userId: user().id, passkeyId: passkey.id });
        app.status(`The passkey "${passkey.name}" was removed.`);
      } catch (err) {
        app.error(describeError("remove the passkey", err));
      }
    });
    await refresh();
    // The row's button is gone: keep keyboard focus in the panel.
    panel.querySelector<HTMLElement>("h3")?.focus();
  };

  const render = (passkeys: Passkey[]): Node[] => {
    if (passkeys.length === 0) return [h("p", { class: "empty" }, "No passkeys.")];
    return [
      h(
        "ul",
        { class: "session-list" },
        ...passkeys.map((p) =>
          h(
            "li",
            {},
            h(
              "span",
              {},
              h("strong", {}, p.name),
              " — added ",
              time(p.created),
              ", ",
              p.lastUsed === 0n ? "never used" : h("span", {}, "last used ", time(p.lastUsed)),
            ),
            h(
              "button",
              {
                type: "button",
                class: "danger",
                "aria-label": `Remove the passkey ${p.name}`,
                onclick: () => void remove(p),
              },
              "Remove",
            ),
          ),
        ),
      ),
    ];
  };

  panel.querySelector("h3")?.setAttribute("tabindex", "-1");
  list.append(h("p", {}, "Loading…"));
  void refresh();
  return panel;
}
