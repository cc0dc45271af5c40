// The CLI's help text, built from the settings table so it never drifts.
import { SETTINGS } from "../config/settings.js";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function helpText(): string {
  const width = Math.max(...SETTINGS.map((s) => s.env.length)) + 2;
  const settings = SETTINGS.map(
    (s) =>
      `  ${s.env.padEnd(width)}${s.describe}\n  ${"".padEnd(width)}default: ${s.default === "" ? "(empty)" : s.default}`,
  ).join("\n");
  return `users-service: user accounts, password login and sessions over gRPC, gRPC-Web, Connect and JSON.

Usage:
  users-service [serve]                       run the server (the default command)
  users-service migrate                       apply database migrations and exit
  users-service keys create --namespace NS [--role service|public] [--label TEXT]
                                              create an API key for one namespace (printed once):
                                              service (the default) may call every Users RPC there,
                                              public only what an end user may do for themselves
  users-service keys create --admin [--label TEXT]
                                              create an admin API key for every namespace
  users-service keys list                     list API keys (ids, roles, namespaces; never the secrets)
  users-service keys revoke ID                revoke an API key
  users-service users import FILE [--namespace NS] [--max-cost N]
                                              import users from JSON lines (bcrypt hashes kept; - for stdin;
                                              hashes costlier than N, default 14, are refused)
  users-service users export [FILE]           export every user with its hash as JSON lines (default stdout)
  users-service keys export [FILE]            export API keys (digests only) as JSON lines
  users-service keys import FILE              import API keys exported from another database
  users-service encryption-keys new FILE     make the encryption key file (mode 0600), or add a new
                                              sealing key at its top (rotation); see ENCRYPTION_KEY_FILE
  users-service --help | --version

Configuration (environment variables):
${settings}
`;
}
