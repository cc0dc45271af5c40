// A user's second factors (GetMfaStatus): TOTP on, pending or off, and the
// recovery codes left; an admin can remove TOTP (DisableTotp without a code,
// which the service logs as an admin removal) for a user locked out of it.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App } from "../app.js";
import { confirmDialog } from "../confirm-dialog.js";
import { busy, h, uid } from "../dom.js";
import { describeError } from "../errors.js";

export function mfaPanel(app: App, user: () => User): HTMLElement {
  const headingId = uid("mfa");
  const state = h("dl", { class: "details", "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const panel = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId, tabindex: "-1" }, "Second factors"),
    state,
    actions,
  );

  const refresh = () =>
    busy(panel, async () => {
      try {
        const status = await app.client.getMfaStatus({ userId: user().id });
        const totp = status.totpEnabled ? "On" : status.totpPending ? "Off (enrolment not confirmed)" : "Off";
        state.replaceChildren(
          h("dt", {}, "TOTP"),
          h("dd", {}, totp),
          h("dt", {}, "Recovery codes left"),
          h("dd", {}, String(status.recoveryCodesLeft)),
        );
        actions.replaceChildren(
          ...(status.totpEnabled
            ? [h("button", { type: "button", class: "danger", onclick: () => void remove() }, "Remove TOTP…")]
            : []),
        );
      } catch (err) {
        state.replaceChildren(h("p", {}, "The second factors could not be loaded."));
        app.error(describeError("read the second factors", err));
      }
    });

  const remove = async () => {
    const { id, username } = user();
    const confirmed = await confirmDialog({
      title: `Remove TOTP of ${username}?`,
      message: `${username} will sign in with the password alone, and their recovery codes stop working. The removal is recorded in the service's log.`,
      confirmLabel: "Remove TOTP",
    });
    if (!confirmed) return;
    await busy(panel, async () => {
      app.clearMessages();
      try {
        await app.client.disableTotp({ userId: id });
        app.status(`TOTP of ${username} was removed.`);
      } catch (err) {
        app.error(describeError(`remove the TOTP of ${username}`, err));
      }
    });
    await refresh();
    // The button is gone: keep keyboard focus in the panel.
    panel.querySelector<HTMLElement>("h3")?.focus();
  };

  state.append(h("p", {}, "Loading…"));
  void refresh();
  return panel;
}
