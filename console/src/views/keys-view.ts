// API keys (admin keys only: other keys are told PermissionDenied in words):
// the list with each key's role and namespace, a form to create one (its
// secret is shown once, in this view only, and never kept), and revoke with a
// confirmation.
import type { ApiKey } from "../../../gen/users/v1/keys_pb.js";
import type { App } from "../app.js";
import { confirmDialog } from "../confirm-dialog.js";
import { busy, field, h, time, uid, viewHeading } from "../dom.js";
import { describeError } from "../errors.js";

const ROLE_HINTS: Record<string, string> = {
  service: "Every Users call in its namespace: for your backends. Never give it to a browser.",
  public: "Only what an end user may do for themselves (sign up, sign in, their own account): safe in a browser app.",
  admin: "Every namespace and key management: for operators only.",
};

export function keysView(app: App): HTMLElement {
  const list = h("div", { class: "results", "aria-live": "polite" }, h("p", {}, "Loading…"));
  const created = h("div", { class: "new-key" });

  const roleId = uid("f");
  const roleHintId = `${roleId}-hint`;
  const role = h(
    "select",
    { id: roleId, name: "role", "aria-describedby": roleHintId },
    h("option", { value: "public" }, "public"),
    h("option", { value: "service" }, "service"),
    h("option", { value: "admin" }, "admin"),
  );
  const roleHint = h("p", { class: "hint", id: roleHintId }, ROLE_HINTS.public!);
  role.addEventListener("change", () => {
    roleHint.textContent = ROLE_HINTS[role.value] ?? "";
    namespace.input.disabled = role.value === "admin";
  });
  const namespace = field(
    "Key namespace",
    { type: "text", name: "key-namespace", autocomplete: "off", spellcheck: "false", value: app.namespace() },
    "The namespace the key works in (1 to 63 of a-z 0-9 _ -); an admin key has none.",
  );
  const label = field(
    "Label",
    { type: "text", name: "label", autocomplete: "off", maxlength: "200" },
    "Optional: what the key is for, to tell keys apart.",
  );
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-key-title", novalidate: true },
    h("h3", { id: "new-key-title" }, "New key"),
    h("div", { class: "field" }, h("label", { for: roleId }, "Role"), roleHint, role),
    namespace.wrapper,
    label.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create key")),
  );

  const load = () =>
    busy(list, async () => {
      try {
        const { keys } = await app.keys.listKeys({});
        list.replaceChildren(render(keys));
      } catch (err) {
        list.replaceChildren(h("p", {}, "The keys could not be loaded."));
        app.error(describeError("list the API keys", err));
      }
    });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    app.clearMessages();
    void busy(form, async () => {
      try {
        const answer = await app.keys.createKey({
          role: role.value,
          namespace: role.value === "admin" ? "" : namespace.input.value.trim(),
          label: label.input.value,
        });
        label.input.value = "";
        created.replaceChildren(shownOnce(answer.secret, answer.key!));
        app.status(`Key ${answer.key!.id} was created. Copy it now: it is shown only once.`);
        created.querySelector<HTMLElement>("h3")?.focus();
      } catch (err) {
        app.error(describeError("create the key", err));
        return;
      }
      await load();
    });
  });

  const revoke = async (key: ApiKey) => {
    const sure = await confirmDialog({
      title: `Revoke ${key.id}?`,
      message: `Every call made with this ${key.role} key${key.namespace ? ` of namespace ${key.namespace}` : ""} will be refused (other replicas follow within API_KEY_CACHE_SECONDS). This cannot be undone.`,
      confirmLabel: "Revoke key",
    });
    if (!sure) return;
    app.clearMessages();
    try {
      await app.keys.revokeKey({ id: key.id });
      app.status(`Key ${key.id} was revoked.`);
    } catch (err) {
      app.error(describeError("revoke the key", err));
    }
    await load();
    list.querySelector<HTMLElement>("table")?.focus();
  };

  const render = (keys: ApiKey[]): HTMLElement => {
    if (keys.length === 0) return h("p", { class: "empty" }, "No keys.");
    return h(
      "table",
      { class: "users keys", tabindex: "-1" },
      h("caption", {}, `${keys.length} API keys`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["ID", "Role", "Namespace", "Label", "Created", "Status", ""].map((name) =>
            h("th", { scope: "col" }, name),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        ...keys.map((key) =>
          h(
            "tr",
            {},
            h("th", { scope: "row", "data-label": "ID" }, key.id),
            h("td", { "data-label": "Role" }, key.role),
            h("td", { "data-label": "Namespace" }, key.namespace || "(all)"),
            h("td", { "data-label": "Label" }, key.label),
            h("td", { "data-label": "Created" }, time(key.created)),
            h("td", { "data-label": "Status" }, key.revoked === 0n ? "active" : "revoked"),
            h(
              "td",
              {},
              key.revoked === 0n
                ? h(
                    "button",
                    {
                      type: "button",
                      class: "danger",
                      "aria-label": `Revoke ${key.id}`,
                      onclick: () => void revoke(key),
                    },
                    "Revoke",
                  )
                : null,
            ),
          ),
        ),
      ),
    );
  };

  void load();
  return h(
    "section",
    { class: "view" },
    h(
      "div",
      { class: "view-head" },
      viewHeading("API keys"),
      h("button", { type: "button", class: "secondary", onclick: () => app.showUsers() }, "Back to users"),
    ),
    created,
    form,
    list,
  );
}

/** The new key's secret, once: only this view holds it, and it is gone when the view is left. */
function shownOnce(secret: string, key: ApiKey): HTMLElement {
  const id = uid("secret");
  return h(
    "section",
    { class: "card", "aria-labelledby": `${id}-title` },
    h("h3", { id: `${id}-title`, tabindex: "-1" }, `New ${key.role} key ${key.id}: shown only once`),
    h(
      "p",
      { class: "hint" },
      "Copy it now and keep it secret: only its digest is stored, so it cannot be shown again.",
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: id }, "Secret"),
      h("input", { id, type: "text", readonly: true, value: secret, spellcheck: "false", autocomplete: "off" }),
    ),
  );
}
