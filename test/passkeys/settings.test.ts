// RP_ID, RP_NAME and RP_ORIGINS: origins are https (http only on localhost),
// RP_ID defaults to the first origin's host and must cover every origin.
import { describe, expect, test } from "@jest/globals";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { relyingParty } from "../../src/config/passkey-settings.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe("passkey settings", () => {
  test("off by default", () => {
    expect(relyingParty(loadConfig({}))).toBeUndefined();
  });

  test("RP_ID defaults to the first origin's host", () => {
    const config = loadConfig({ RP_ORIGINS: "https://app.example.com, https://www.app.example.com" });
    expect(relyingParty(config)).toEqual({
      id: "app.example.com",
      name: "users",
      origins: ["https://app.example.com", "https://www.app.example.com"],
    });
    expect(relyingParty(loadConfig({ RP_ORIGINS: "http://localhost:3000" }))?.id).toBe("localhost");
  });

  test.each([
    ["http://app.example.com", /RP_ORIGINS: .*must be https/],
    ["http://127.0.0.1:3000", /RP_ORIGINS: .*must be https/],
    ["https://app.example.com/login", /RP_ORIGINS: .*scheme, host and port only/],
    ["not a url", /RP_ORIGINS: .*is not an origin/],
  ])("RP_ORIGINS=%s is refused", (origins, message) => {
    expect(problems({ RP_ORIGINS: origins }).join("\n")).toMatch(message);
  });

  test("every origin must be on RP_ID", () => {
    expect(problems({ RP_ID: "example.com", RP_ORIGINS: "https://a.example.com,https://evil.com" })).toEqual([
      "RP_ORIGINS: https://evil.com is not on RP_ID example.com (its host must be example.com or end with .example.com)",
    ]);
    expect(problems({ RP_ID: "ample.com", RP_ORIGINS: "https://example.com" })).toHaveLength(1);
    expect(problems({ RP_ID: "example.com", RP_ORIGINS: "https://example.com,https://a.b.example.com" })).toEqual([]);
  });

  test("RP_ID and RP_NAME are bounded", () => {
    expect(problems({ RP_ID: "https://example.com" }).join()).toMatch(/RP_ID: must be a lowercase domain/);
    expect(problems({ RP_NAME: "x".repeat(65) }).join()).toMatch(/RP_NAME: must be 1 to 64/);
  });
});
