// The users list: prefix search on username and/or email (the Search RPC),
// a page at a time, oldest first as the service orders them.
import type { User } from "../../../gen/users/v1/users_pb.js";
import type { App, ListQuery } from "../app.js";
import { busy, field, h, time, viewHeading } from "../dom.js";
import { describeError } from "../errors.js";

export const PAGE_SIZE = 20;

export function usersView(app: App, query: ListQuery): HTMLElement {
  const username = field("Username starts with", {
    type: "search",
    name: "username",
    autocomplete: "off",
    value: query.username,
  });
  const email = field("Email starts with", { type: "search", name: "email", autocomplete: "off", value: query.email });
  const search = h(
    "form",
    { role: "search", class: "card search", "aria-label": "Search users", novalidate: true },
    username.wrapper,
    email.wrapper,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search")),
  );
  const results = h("div", { class: "results", "aria-live": "polite", "aria-busy": "true" }, h("p", {}, "Loading…"));

  // After a page change the pager's button is gone: focus moves to the new table.
  const load = (next: ListQuery, focusResults = false) =>
    busy(search, async () => {
      results.setAttribute("aria-busy", "true");
      try {
        // One more than a page tells whether a next page exists.
        const { users } = await app.client.search({
          username: next.username.trim(),
          email: next.email.trim(),
          limit: BigInt(PAGE_SIZE + 1),
          offset: BigInt(next.page * PAGE_SIZE),
        });
        app.rememberListQuery(next);
        results.replaceChildren(...renderPage(app, next, users, (q) => load(q, true)));
        if (focusResults) results.querySelector<HTMLElement>("table, .empty")?.focus();
      } catch (err) {
        results.replaceChildren(h("p", {}, "The list could not be loaded."));
        app.error(describeError("search users", err));
      } finally {
        results.removeAttribute("aria-busy");
      }
    });

  search.addEventListener("submit", (event) => {
    event.preventDefault();
    app.clearMessages();
    void load({ username: username.input.value, email: email.input.value, page: 0 });
  });
  void load(query);

  return h(
    "section",
    { class: "view" },
    h(
      "div",
      { class: "view-head" },
      viewHeading("Users"),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => app.showKeys() }, "API keys"),
        h("button", { type: "button", onclick: () => app.showNewUser() }, "New user"),
      ),
    ),
    search,
    results,
  );
}

function renderPage(app: App, query: ListQuery, found: User[], load: (q: ListQuery) => Promise<void>): Node[] {
  const users = found.slice(0, PAGE_SIZE);
  const hasNext = found.length > PAGE_SIZE;
  if (users.length === 0) {
    return [h("p", { class: "empty", tabindex: "-1" }, query.page === 0 ? "No users match." : "No more users.")];
  }
  const first = query.page * PAGE_SIZE + 1;
  const summary = `Users ${first}–${first + users.length - 1}`;
  const table = h(
    "table",
    { class: "users", tabindex: "-1" },
    h("caption", {}, summary),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Username"),
        h("th", { scope: "col" }, "Email"),
        h("th", { scope: "col" }, "Created"),
      ),
    ),
    h(
      "tbody",
      {},
      ...users.map((user) =>
        h(
          "tr",
          {},
          h(
            "th",
            { scope: "row", "data-label": "Username" },
            h("button", { type: "button", class: "link", onclick: () => app.showUser(user.id) }, user.username),
          ),
          h("td", { "data-label": "Email" }, user.email),
          h("td", { "data-label": "Created" }, time(user.created)),
        ),
      ),
    ),
  );
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        disabled: query.page === 0,
        onclick: () => void load({ ...query, page: query.page - 1 }),
      },
      "Previous page",
    ),
    h("span", {}, `Page ${query.page + 1}`),
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        disabled: !hasNext,
        onclick: () => void load({ ...query, page: query.page + 1 }),
      },
      "Next page",
    ),
  );
  return [table, pager];
}
