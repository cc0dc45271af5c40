// Every input rule of src/service/validation.ts, with its edges.
import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { ServiceError } from "../../src/service/errors.js";
import * as rules from "../../src/service/validation.js";

/** The InvalidArgument a rule throws for this input (fails the test when it throws nothing). */
function refusal(check: () => unknown): ServiceError {
  try {
    check();
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe("invalid_argument");
    return err as ServiceError;
  }
  throw new Error("expected the input to be refused");
}

const bytes = (text: string) => Buffer.byteLength(text, "utf8");

describe("username", () => {
  test.each([
    ["a", "a"],
    ["Asim", "asim"],
    ["ASIM_99", "asim_99"],
    ["a-b", "a-b"],
    ["a_b-c_d", "a_b-c_d"],
    ["123", "123"],
    ["x".repeat(39), "x".repeat(39)],
  ])("%j is accepted as %j", (raw, stored) => {
    expect(rules.username(raw)).toBe(stored);
  });

  test("empty is required", () => {
    expect(refusal(() => rules.username("")).message).toBe("username: required");
  });

  test.each([
    ["40 characters", "x".repeat(40)],
    ["a leading hyphen", "-asim"],
    ["a trailing hyphen", "asim-"],
    ["a leading underscore", "_asim"],
    ["a trailing underscore", "asim_"],
    ["two hyphens in a row", "a--b"],
    ["hyphen then underscore", "a-_b"],
    ["two underscores", "a__b"],
    ["a dot", "a.b"],
    ["a space", "a b"],
    ["an @", "a@b"],
    ["a non-ASCII letter", "jürgen"],
    ["an accented capital", "Émile"],
    ["the Kelvin sign (lowercases to k)", "\u212Aelvin"],
    ["only the Kelvin sign", "\u212A"],
    ["dotted capital I (lowercases to i + dot)", "\u0130stanbul"],
    ["fullwidth letters", "ａｓｉｍ"],
    ["a NUL", "asim\u0000"],
    ["a newline", "asim\n"],
  ])("%s is refused, naming the field and the rule", (_why, raw) => {
    const err = refusal(() => rules.username(raw));
    expect(err.message).toBe(
      'username: must be 1 to 39 ASCII letters and digits, with single "-" or "_" allowed between them',
    );
    expect(err.details.field).toBe("username");
  });

  test("the field name can be given", () => {
    expect(refusal(() => rules.username("-", "login")).message).toMatch(/^login: /);
  });

  test("property: anything accepted is stored lowercased, ASCII, at most 39, and is stable", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 45, unit: "binary" }), (raw) => {
        let stored: string;
        try {
          stored = rules.username(raw);
        } catch {
          return;
        }
        expect(stored).toMatch(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/);
        expect(stored.length).toBeLessThanOrEqual(39);
        expect(stored).toBe(raw.toLowerCase());
        expect(rules.username(stored)).toBe(stored);
      }),
    );
  });
});

describe("email", () => {
  /** An address of exactly `length` characters, valid in every other way. */
  function emailOfLength(length: number): string {
    const local = "l".repeat(64);
    const tld = "c".repeat(length - 64 - 1 - 63 - 1 - 63 - 1);
    return `${local}@${"a".repeat(63)}.${"b".repeat(63)}.${tld}`;
  }

  test.each([
    ["asim@example.com", "asim@example.com"],
    ["  Asim@Example.COM\t", "asim@example.com"],
    ["asim+update@example.com", "asim+update@example.com"],
    ["a@b.co", "a@b.co"],
    ["a@b.c", "a@b.c"],
    ["first.last@sub.example.technology", "first.last@sub.example.technology"],
    ["user@bücher.de", "user@bücher.de"],
    ["USER@BÜCHER.DE", "user@bücher.de"],
    ["用户@例子.广告", "用户@例子.广告"],
    ["x@xn--bcher-kva.example", "x@xn--bcher-kva.example"],
    ["o'brien@my-domain.example", "o'brien@my-domain.example"],
    ["a@123.45", "a@123.45"],
  ])("%j is accepted as %j", (raw, stored) => {
    expect(rules.email(raw)).toBe(stored);
  });

  test("254 characters is accepted, 255 is refused", () => {
    expect(rules.email(emailOfLength(254))).toHaveLength(254);
    expect(refusal(() => rules.email(emailOfLength(255))).message).toBe("email: must be at most 254 characters");
  });

  test("the length counts after trimming", () => {
    expect(rules.email(`  ${emailOfLength(254)}  `)).toHaveLength(254);
  });

  test.each(["", "   ", "\t\n"])("%j is required", (raw) => {
    expect(refusal(() => rules.email(raw)).message).toBe("email: required");
  });

  test.each([
    ["no @", "asim.example.com"],
    ["two @", "asim@home@example.com"],
    ["nothing before @", "@example.com"],
    ["nothing after @", "asim@"],
    ["no dot in the domain", "asim@localhost"],
    ["a space in the local part", "as im@example.com"],
    ["a space in the domain", "asim@exa mple.com"],
    ["a tab inside", "as\tim@example.com"],
    ["a newline inside", "asim@example.com\nbcc@evil.com"],
    ["a no-break space inside", "as\u00a0im@example.com"],
    ["a NUL inside", "as\u0000im@example.com"],
    ["an empty label", "asim@example..com"],
    ["a leading dot in the domain", "asim@.example.com"],
    ["a trailing dot", "asim@example.com."],
    ["a label starting with a hyphen", "asim@-example.com"],
    ["a label ending with a hyphen", "asim@example-.com"],
    ["an underscore in the domain", "asim@my_domain.com"],
    ["a 65-character local part", `${"l".repeat(65)}@example.com`],
    ["a 64-character label", `asim@${"a".repeat(64)}.com`],
  ])("%s is refused", (_why, raw) => {
    const err = refusal(() => rules.email(raw));
    expect(err.message).toBe(
      'email: must be an email address: one "@", no whitespace, and a dotted domain (name@example.com)',
    );
    expect(err.details.field).toBe("email");
  });

  test("a 64-character local part and a 63-character label are accepted", () => {
    expect(rules.email(`${"l".repeat(64)}@${"a".repeat(63)}.com`)).toBeTruthy();
  });

  test("property: anything accepted is trimmed, lowercased, has one @, and is stable", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 20 }), (local, domain) => {
        const raw = `${local}@${domain}.example`;
        let stored: string;
        try {
          stored = rules.email(raw);
        } catch {
          return;
        }
        expect(stored).toBe(raw.trim().toLowerCase());
        expect(stored.split("@")).toHaveLength(2);
        expect(stored).not.toMatch(/\s/);
        expect(rules.email(stored)).toBe(stored);
      }),
    );
  });
});

describe("new password", () => {
  test.each([
    ["8 ASCII characters", "password"],
    ["72 ASCII bytes", "p".repeat(72)],
    ["36 two-byte characters (72 bytes)", "é".repeat(36)],
    ["24 three-byte characters (72 bytes)", "€".repeat(24)],
    ["18 four-byte characters (72 bytes)", "😀".repeat(18)],
    ["8 emoji (16 UTF-16 units, 8 characters)", "😀".repeat(8)],
    ["spaces and symbols", "correct horse battery staple!"],
  ])("%s is accepted", (_why, raw) => {
    expect(rules.newPassword(raw)).toBe(raw);
  });

  test("empty is required", () => {
    expect(refusal(() => rules.newPassword("")).message).toBe("password: required");
  });

  test.each([
    ["7 ASCII characters", "passwor"],
    ["7 emoji (14 UTF-16 units)", "😀".repeat(7)],
    ["7 composed characters written decomposed (14 code points)", "e\u0301".repeat(7)],
  ])("%s is too short", (_why, raw) => {
    expect(refusal(() => rules.newPassword(raw)).message).toBe("password: must be at least 8 characters");
  });

  test.each([
    ["73 ASCII bytes", "p".repeat(73)],
    ["36 two-byte characters and one ASCII (73 bytes)", `${"é".repeat(36)}a`],
    ["24 three-byte characters and one ASCII (73 bytes)", `${"€".repeat(24)}a`],
    ["18 four-byte characters and one ASCII (73 bytes)", `${"😀".repeat(18)}a`],
    ["37 two-byte characters (74 bytes)", "é".repeat(37)],
    ["far too long", "p".repeat(10_000)],
  ])("%s is refused, never truncated", (_why, raw) => {
    expect(refusal(() => rules.newPassword(raw)).message).toBe("password: must be at most 72 bytes of UTF-8");
  });

  test("text is NFC-normalised: decomposed and composed forms give the same password", () => {
    const composed = "caf\u00e9-cr\u00e8me";
    const decomposed = "cafe\u0301-cre\u0300me";
    expect(decomposed).not.toBe(composed);
    expect(rules.newPassword(decomposed)).toBe(composed);
    expect(rules.newPassword(composed)).toBe(composed);
  });

  test("the byte limit applies after normalisation: 36 decomposed é (108 bytes raw, 72 composed) fit", () => {
    const decomposed = "e\u0301".repeat(36);
    expect(bytes(decomposed)).toBe(108);
    const stored = rules.newPassword(decomposed);
    expect(stored).toBe("é".repeat(36));
    expect(bytes(stored)).toBe(72);
  });

  test("37 decomposed é (74 bytes composed) are refused", () => {
    expect(refusal(() => rules.newPassword("e\u0301".repeat(37))).message).toBe(
      "password: must be at most 72 bytes of UTF-8",
    );
  });

  test("the length counts characters after normalisation: 8 decomposed é are 8 characters", () => {
    expect(rules.newPassword("e\u0301".repeat(8))).toBe("é".repeat(8));
  });

  test.each([
    ["at the end", "password\u0000"],
    ["in the middle", "pass\u0000word"],
    ["at the start", "\u0000password"],
  ])("a NUL %s is refused (bcrypt would stop there)", (_why, raw) => {
    expect(refusal(() => rules.newPassword(raw)).message).toBe("password: must not contain the NUL character");
  });

  test("the field name can be given", () => {
    expect(refusal(() => rules.newPassword("short", "new_password")).message).toBe(
      "new_password: must be at least 8 characters",
    );
  });

  test("property: anything accepted has 8+ characters, at most 72 bytes, no NUL, and is NFC", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 80, unit: "grapheme-composite" }), (raw) => {
        let stored: string;
        try {
          stored = rules.newPassword(raw);
        } catch {
          return;
        }
        expect(stored).toBe(raw.normalize("NFC"));
        expect([...stored].length).toBeGreaterThanOrEqual(8);
        expect(bytes(stored)).toBeLessThanOrEqual(72);
        expect(stored).not.toContain("\u0000");
      }),
    );
  });
});

describe("given password (Login, old_password)", () => {
  test("short passwords are checked, not refused (they may predate the policy)", () => {
    expect(rules.givenPassword("short")).toBe("short");
  });

  test("it is NFC-normalised like a new one", () => {
    expect(rules.givenPassword("cafe\u0301")).toBe("caf\u00e9");
  });

  test("empty, NUL and more than 72 bytes are refused", () => {
    expect(refusal(() => rules.givenPassword("")).message).toBe("password: required");
    expect(refusal(() => rules.givenPassword("a\u0000b", "old_password")).message).toBe(
      "old_password: must not contain the NUL character",
    );
    expect(refusal(() => rules.givenPassword("p".repeat(73))).message).toBe(
      "password: must be at most 72 bytes of UTF-8",
    );
  });
});

describe("user id", () => {
  test.each(["a", "ff3c06de-9e43-41c7-9bab-578f6b4ad32b", "user.name_01-X", "x".repeat(64), "..."])(
    "%j is accepted as is",
    (raw) => {
      expect(rules.userId(raw)).toBe(raw);
    },
  );

  test("empty is required", () => {
    expect(refusal(() => rules.userId("")).message).toBe("id: required");
  });

  test.each([
    ["65 characters", "x".repeat(65)],
    ["a slash", "a/b"],
    ["a space", "a b"],
    ["a colon", "a:b"],
    ["a non-ASCII letter", "ä"],
    ["the Kelvin sign", "\u212A"],
    ["a NUL", "a\u0000"],
  ])("%s is refused", (_why, raw) => {
    expect(refusal(() => rules.userId(raw)).message).toBe("id: must be 1 to 64 of A-Z a-z 0-9 . _ -");
  });

  test("the field name can be given", () => {
    expect(refusal(() => rules.userId("", "user_id")).message).toBe("user_id: required");
  });
});

describe("namespace", () => {
  test.each(["default", "acme", "a", "team_1-eu", "x".repeat(63)])("%j is accepted", (raw) => {
    expect(rules.namespace(raw)).toBe(raw);
  });

  test.each([
    ["empty", ""],
    ["64 characters", "x".repeat(64)],
    ["an uppercase letter", "Acme"],
    ["a dot", "acme.eu"],
    ["a space", "ac me"],
    ["a slash", "acme/eu"],
    ["a non-ASCII letter", "ünicode"],
  ])("%s is refused, naming the header", (_why, raw) => {
    expect(refusal(() => rules.namespace(raw)).message).toBe("micro-namespace: must be 1 to 63 of a-z 0-9 _ -");
  });
});

describe("session id", () => {
  test("any non-empty text up to 256 characters is looked up", () => {
    expect(rules.sessionId("x")).toBe("x");
    expect(rules.sessionId("x".repeat(256))).toHaveLength(256);
  });

  test("empty is required; 257 characters are refused", () => {
    expect(refusal(() => rules.sessionId("")).message).toBe("session_id: required");
    expect(refusal(() => rules.sessionId("x".repeat(257))).message).toBe("session_id: must be at most 256 characters");
  });
});

describe("session handles", () => {
  const handle = "ab".repeat(32);

  test("none means all; each handle becomes its 32-byte digest", () => {
    expect(rules.sessionHandles([])).toEqual([]);
    expect(rules.sessionHandles([handle])).toEqual([Buffer.from(handle, "hex")]);
  });

  test.each([
    ["uppercase hex", "AB".repeat(32)],
    ["63 characters", "a".repeat(63)],
    ["65 characters", "a".repeat(65)],
    ["not hex", "g".repeat(64)],
    ["a session id instead of a handle", "x".repeat(43)],
  ])("%s is refused", (_why, raw) => {
    expect(refusal(() => rules.sessionHandles([raw])).message).toMatch(
      /^handles: each handle is 64 lowercase hex characters/,
    );
  });

  test("at most 1000 handles", () => {
    expect(rules.sessionHandles(Array(1000).fill(handle))).toHaveLength(1000);
    expect(refusal(() => rules.sessionHandles(Array(1001).fill(handle))).message).toBe("handles: at most 1000 handles");
  });
});

describe("search query", () => {
  const query = (q: Partial<Parameters<typeof rules.searchQuery>[0]>) =>
    rules.searchQuery({ username: "", email: "", limit: 0, offset: 0, ...q });

  test("defaults: no prefixes, limit 25, offset 0", () => {
    expect(query({})).toEqual({ usernamePrefix: "", emailPrefix: "", limit: 25, offset: 0 });
  });

  test("prefixes are lowercased; the email prefix is trimmed", () => {
    expect(query({ username: "As", email: "  ASIM@Ex " })).toMatchObject({
      usernamePrefix: "as",
      emailPrefix: "asim@ex",
    });
  });

  test("limit 1 to 1000 and offsets are taken as given (numbers or bigints)", () => {
    expect(query({ limit: 1 }).limit).toBe(1);
    expect(query({ limit: 1000n, offset: 7n })).toMatchObject({ limit: 1000, offset: 7 });
    expect(query({ offset: 10_000 }).offset).toBe(10_000);
  });

  test.each([
    ["limit 1001", { limit: 1001 }, "limit: must be from 0 to 1000"],
    ["a negative limit", { limit: -1 }, "limit: must be from 0 to 1000"],
    ["a huge limit", { limit: 2n ** 62n }, "limit: must be from 0 to 1000"],
    ["a negative offset", { offset: -1n }, "offset: must be from 0 to 10000"],
    ["a huge offset", { offset: 10_001 }, "offset: must be from 0 to 10000"],
    ["a 40-character username prefix", { username: "x".repeat(40) }, "username: a username prefix is at most 39"],
    ["a username prefix with a dot", { username: "a." }, "username: a username prefix is at most 39"],
    ["a Kelvin sign in the username prefix", { username: "\u212A" }, "username: a username prefix is at most 39"],
    ["a 255-character email prefix", { email: "e".repeat(255) }, "email: must be at most 254 characters"],
  ])("%s is refused", (_why, q, message) => {
    expect(refusal(() => query(q)).message).toContain(message);
  });
});
