// The admin console's entry point: wires the shell, the client and the views.
// Navigation is in memory (no routes in the URL): the console's state, like
// its key, lasts as long as the tab.
import type { App, ListQuery } from "./app.js";
import { createKeysClient, createUsersClient } from "./client.js";
import { clearCredentials, getCredentials } from "./credentials.js";
import { createShell } from "./shell.js";
import { connectView } from "./views/connect-view.js";
import { keysView } from "./views/keys-view.js";
import { newUserView } from "./views/new-user-view.js";
import { userView } from "./views/user-view.js";
import { usersView } from "./views/users-view.js";

const FIRST_PAGE: ListQuery = { username: "", email: "", page: 0 };

function start(): void {
  const shell = createShell();
  let lastQuery = FIRST_PAGE;
  let namespace = "";

  const forget = () => {
    clearCredentials();
    shell.setConnection(undefined, forget);
    app.showConnect();
    app.status("The key was forgotten.");
  };
  const connected = () => {
    const credentials = getCredentials();
    if (!credentials) {
      app.showConnect();
      return false;
    }
    namespace = credentials.namespace;
    shell.setConnection(namespace, forget);
    return true;
  };

  const app: App = {
    client: createUsersClient(),
    keys: createKeysClient(),
    namespace: () => namespace,
    showConnect: () => shell.show(connectView(app)),
    showUsers(query) {
      if (!connected()) return;
      lastQuery = query ?? lastQuery;
      shell.show(usersView(app, lastQuery));
    },
    showUser(id) {
      if (connected()) shell.show(userView(app, id));
    },
    rememberListQuery(query) {
      lastQuery = query;
    },
    showNewUser() {
      if (connected()) shell.show(newUserView(app));
    },
    showKeys() {
      if (connected()) shell.show(keysView(app));
    },
    error: (text) => shell.error(text),
    status: (text) => shell.status(text),
    clearMessages: () => shell.clearMessages(),
  };
  app.showConnect();
}

start();
