// loadConfig: every default, every bad value refused with a message naming the
// variable and its rule, and describeConfig masking the secrets.
import fs from "node:fs";
import os from "node:os";
import { describe, expect, test } from "@jest/globals";
import { ConfigError, describeConfig, loadConfig } from "../../src/config/config.js";
import { SETTINGS } from "../../src/config/settings.js";

/** The ConfigError loadConfig throws for this environment (fails the test when it throws nothing). */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe("defaults", () => {
  test("an empty environment gives the documented defaults", () => {
    expect(loadConfig({})).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      databaseUrl: "sqlite:./data/users.db",
      pgPoolSize: 10,
      pgStatementTimeoutMs: 5000,
      bcryptCost: 12,
      sessionTtlSeconds: 604800,
      bootstrapKey: "",
      apiKeyCacheSeconds: 5,
      maxBodyBytes: 1048576,
      loginMaxFailures: 5,
      loginLockoutBaseSeconds: 1,
      loginLockoutMaxSeconds: 900,
      hashConcurrency: 0,
      hashQueueMax: 64,
      corsOrigins: [],
      logLevel: "info",
      shutdownTimeoutSeconds: 10,
    });
  });

  test("an empty value means the default, like an unset one", () => {
    expect(loadConfig({ PORT: "", BCRYPT_COST: "" })).toMatchObject({ port: 8080, bcryptCost: 12 });
  });

  test("the configuration table (docs/operations.md) states the defaults the code uses", () => {
    const readme = fs.readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
    // The Configuration section alone (other tables list reasons in the same shape).
    const section = readme.slice(
      readme.indexOf("\n## Configuration"),
      readme.indexOf("\n## ", readme.indexOf("\n## Configuration") + 1),
    );
    const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(18);
    for (const [, name, cell] of rows) {
      const setting = SETTINGS.find((s) => s.env === name);
      expect(setting).toBeDefined();
      const documented = /^`([^`]*)`/.exec(cell!.trim())?.[1] ?? "";
      expect({ name, default: setting!.default }).toEqual({ name, default: documented });
    }
  });
});

describe("accepted values", () => {
  test.each([
    ["SESSION_TTL_SECONDS", "15m", "sessionTtlSeconds", 900],
    ["SESSION_TTL_SECONDS", "12h", "sessionTtlSeconds", 43200],
    ["SESSION_TTL_SECONDS", "7d", "sessionTtlSeconds", 604800],
    ["SESSION_TTL_SECONDS", "60", "sessionTtlSeconds", 60],
    ["SESSION_TTL_SECONDS", "90s", "sessionTtlSeconds", 90],
    ["PORT", "0", "port", 0],
    ["PORT", " 9090 ", "port", 9090],
    ["BCRYPT_COST", "4", "bcryptCost", 4],
    ["BCRYPT_COST", "15", "bcryptCost", 15],
    ["API_KEY_CACHE_SECONDS", "0", "apiKeyCacheSeconds", 0],
    ["LOG_LEVEL", "DEBUG", "logLevel", "debug"],
    ["HOST", "::", "host", "::"],
    ["DATABASE_URL", "postgres://u:p@db:5432/users", "databaseUrl", "postgres://u:p@db:5432/users"],
    [
      "CORS_ORIGINS",
      "https://app.example.com, http://localhost:5173",
      "corsOrigins",
      ["https://app.example.com", "http://localhost:5173"],
    ],
  ])("%s=%j gives %s %j", (name, value, key, expected) => {
    expect((loadConfig({ [name]: value }) as unknown as Record<string, unknown>)[key]).toEqual(expected);
  });
});

describe("bad values stop the start, naming the variable and its rule", () => {
  test.each([
    ["PORT", "abc", "PORT: must be a whole number from 0 to 65535"],
    ["PORT", "65536", "PORT: must be a whole number from 0 to 65535"],
    ["PORT", "-1", "PORT: must be a whole number from 0 to 65535"],
    ["PORT", "80.5", "PORT: must be a whole number from 0 to 65535"],
    ["HOST", "local host", "HOST: must be an IP address or host name"],
    ["DATABASE_URL", "mysql://db/users", 'DATABASE_URL: must start with "sqlite:" or "postgres://"'],
    ["DATABASE_URL", "sqlite:", "DATABASE_URL: sqlite: needs a file path"],
    ["DATABASE_URL", "postgres://[bad", "DATABASE_URL: is not a valid postgres:// URL"],
    ["PG_POOL_SIZE", "0", "PG_POOL_SIZE: must be a whole number from 1 to 1000"],
    ["PG_STATEMENT_TIMEOUT_MS", "99", "PG_STATEMENT_TIMEOUT_MS: must be a whole number from 100 to 600000"],
    ["BCRYPT_COST", "3", "BCRYPT_COST: must be a whole number from 4 to 15"],
    ["BCRYPT_COST", "16", "BCRYPT_COST: must be a whole number from 4 to 15"],
    ["SESSION_TTL_SECONDS", "59", "SESSION_TTL_SECONDS: must be a duration in seconds from 60 to 31536000"],
    ["SESSION_TTL_SECONDS", "2w", "SESSION_TTL_SECONDS: must be a duration in seconds from 60 to 31536000"],
    ["SESSION_TTL_SECONDS", "366d", "SESSION_TTL_SECONDS: must be a duration in seconds from 60 to 31536000"],
    ["SESSION_TTL_SECONDS", "-5", "SESSION_TTL_SECONDS: must be a duration in seconds from 60 to 31536000"],
    ["USERS_BOOTSTRAP_KEY", "k".repeat(31), "USERS_BOOTSTRAP_KEY: must be 32 to 256 characters"],
    ["USERS_BOOTSTRAP_KEY", "k".repeat(257), "USERS_BOOTSTRAP_KEY: must be 32 to 256 characters"],
    ["USERS_BOOTSTRAP_KEY", `${"k".repeat(32)} x`, "USERS_BOOTSTRAP_KEY: must be printable ASCII without spaces"],
    ["API_KEY_CACHE_SECONDS", "3601", "API_KEY_CACHE_SECONDS: must be a duration in seconds from 0 to 3600"],
    ["MAX_BODY_BYTES", "1023", "MAX_BODY_BYTES: must be a whole number from 1024 to 67108864"],
    ["LOGIN_MAX_FAILURES", "0", "LOGIN_MAX_FAILURES: must be a whole number from 1 to 1000"],
    ["LOGIN_LOCKOUT_BASE_SECONDS", "0", "LOGIN_LOCKOUT_BASE_SECONDS: must be a duration in seconds from 1 to 86400"],
    ["LOGIN_LOCKOUT_MAX_SECONDS", "2d", "LOGIN_LOCKOUT_MAX_SECONDS: must be a duration in seconds from 1 to 86400"],
    ["HASH_CONCURRENCY", "65", "HASH_CONCURRENCY: must be a whole number from 0 to 64"],
    ["HASH_QUEUE_MAX", "-1", "HASH_QUEUE_MAX: must be a whole number from 0 to 100000"],
    ["CORS_ORIGINS", "https://app.example.com/", 'CORS_ORIGINS: "https://app.example.com/" is not an origin'],
    ["CORS_ORIGINS", "app.example.com", 'CORS_ORIGINS: "app.example.com" is not an origin'],
    ["CORS_ORIGINS", "ftp://app.example.com", 'CORS_ORIGINS: "ftp://app.example.com" is not an origin'],
    ["LOG_LEVEL", "verbose", "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent"],
    ["SHUTDOWN_TIMEOUT_SECONDS", "601", "SHUTDOWN_TIMEOUT_SECONDS: must be a duration in seconds from 0 to 600"],
    ["HTTP_HEADERS_TIMEOUT_SECONDS", "0", "HTTP_HEADERS_TIMEOUT_SECONDS: must be a duration in seconds from 1 to 3600"],
    ["HTTP_KEEP_ALIVE_TIMEOUT_SECONDS", "2h", "HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: must be a duration in seconds from 1"],
    ["HTTP2_IDLE_TIMEOUT_SECONDS", "x", "HTTP2_IDLE_TIMEOUT_SECONDS: must be a duration in seconds from 1 to 3600"],
    ["LOG_CALLS", "some", "LOG_CALLS: must be one of all, errors, sample"],
    ["LOG_CALLS_PER_SECOND", "0", "LOG_CALLS_PER_SECOND: must be a whole number from 1 to 1000000"],
  ])("%s=%j", (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(message);
  });

  test("every bad value is listed at once, and the error message shows them all", () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: "x", BCRYPT_COST: "99", LOG_LEVEL: "loud" });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems.map((p) => p.split(":")[0])).toEqual(["PORT", "BCRYPT_COST", "LOG_LEVEL"]);
    expect(error?.message).toMatch(/^invalid configuration:\n {2}PORT: .*\n {2}BCRYPT_COST: .*\n {2}LOG_LEVEL: /);
  });

  test("the whole-request timeout may not be below the headers timeout", () => {
    expect(problems({ HTTP_HEADERS_TIMEOUT_SECONDS: "30", HTTP_REQUEST_TIMEOUT_SECONDS: "10" })).toEqual([
      "HTTP_REQUEST_TIMEOUT_SECONDS: must be at least HTTP_HEADERS_TIMEOUT_SECONDS",
    ]);
  });

  test("the lockout ceiling may not be below its base", () => {
    expect(problems({ LOGIN_LOCKOUT_BASE_SECONDS: "60", LOGIN_LOCKOUT_MAX_SECONDS: "30" })).toEqual([
      "LOGIN_LOCKOUT_MAX_SECONDS: must be at least LOGIN_LOCKOUT_BASE_SECONDS",
    ]);
  });

  test("more hashing threads than the thread pool or the cores can run are refused", () => {
    const ceiling = Math.max(Number(process.env.UV_THREADPOOL_SIZE ?? 4), os.availableParallelism());
    expect(loadConfig({ HASH_CONCURRENCY: String(ceiling) }).hashConcurrency).toBe(ceiling);
    const found = problems({ HASH_CONCURRENCY: String(ceiling + 1) });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^HASH_CONCURRENCY: must be at most max\(UV_THREADPOOL_SIZE, cores\)/);
  });

  test("a refused secret is not repeated in the message", () => {
    const key = `secret-${"s".repeat(20)} with a space`;
    const found = problems({ USERS_BOOTSTRAP_KEY: key });
    expect(found.join("\n")).not.toContain("secret-");
  });
});

describe("describeConfig", () => {
  test("masks the bootstrap key and a PostgreSQL password, shows the rest", () => {
    const shown = describeConfig(
      loadConfig({
        USERS_BOOTSTRAP_KEY: "a-very-secret-bootstrap-key-0123456789",
        DATABASE_URL: "postgres://users:hunter2hunter2@db.internal:5432/users",
        PORT: "9090",
      }),
    );
    expect(shown.USERS_BOOTSTRAP_KEY).toBe("***");
    expect(shown.DATABASE_URL).toBe("postgres://users:***@db.internal:5432/users");
    expect(shown.PORT).toBe(9090);
    expect(JSON.stringify(shown)).not.toContain("a-very-secret");
    expect(JSON.stringify(shown)).not.toContain("hunter2");
  });

  test("masks secrets given in a PostgreSQL URL's query too, keeping the harmless parameters", () => {
    const shown = describeConfig(
      loadConfig({
        DATABASE_URL: "postgres://users@db/users?password=hunter2&sslpassword=keypass&sslmode=require&sslkey=/k",
      }),
    );
    expect(shown.DATABASE_URL).toBe(
      "postgres://users@db/users?password=***&sslpassword=***&sslmode=require&sslkey=***",
    );
  });

  test("an unset secret shows as empty, a SQLite path as is", () => {
    const shown = describeConfig(loadConfig({ DATABASE_URL: "sqlite:/var/lib/users/users.db" }));
    expect(shown.USERS_BOOTSTRAP_KEY).toBe("");
    expect(shown.DATABASE_URL).toBe("sqlite:/var/lib/users/users.db");
  });

  test("names every variable once", () => {
    const shown = describeConfig(loadConfig({}));
    expect(Object.keys(shown).sort()).toEqual(SETTINGS.map((s) => s.env).sort());
  });
});
