// Every setting of the service, parsed and validated once at start into one
// typed object. A bad value stops the start with a message naming the variable
// and its rule; it is never silently replaced by a default.
import os from "node:os";
import { checkRelyingParty } from "./passkey-settings.js";
import { SETTINGS, type SettingValues } from "./settings.js";

export type Config = SettingValues;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Reads every setting from `env`; throws ConfigError listing each bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    const text = raw === undefined || raw === "" ? setting.default : raw;
    try {
      values[setting.key] = setting.parse(text);
    } catch (err) {
      problems.push(`${setting.env}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const config = values as Config;
  crossCheck(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

// Rules that involve more than one setting.
function crossCheck(config: Config, problems: string[]): void {
  if (config.loginLockoutMaxSeconds < config.loginLockoutBaseSeconds) {
    problems.push("LOGIN_LOCKOUT_MAX_SECONDS: must be at least LOGIN_LOCKOUT_BASE_SECONDS");
  }
  if ((config.tlsCertFile === "") !== (config.tlsKeyFile === "")) {
    problems.push("TLS_CERT_FILE, TLS_KEY_FILE: set both (TLS) or neither (cleartext)");
  }
  checkRelyingParty(config, problems);
  if (config.httpRequestTimeoutSeconds < config.httpHeadersTimeoutSeconds) {
    problems.push("HTTP_REQUEST_TIMEOUT_SECONDS: must be at least HTTP_HEADERS_TIMEOUT_SECONDS");
  }
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (config.hashConcurrency > Math.max(threads, os.availableParallelism())) {
    problems.push(
      `HASH_CONCURRENCY: must be at most max(UV_THREADPOOL_SIZE, cores) = ${Math.max(threads, os.availableParallelism())}`,
    );
  }
}

/** The configuration as it may be logged: secrets masked. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const value = config[setting.key];
    if (setting.show) out[setting.env] = setting.show(value as never);
    else if (setting.secret) out[setting.env] = value === "" ? "" : "***";
    else out[setting.env] = value;
  }
  return out;
}
