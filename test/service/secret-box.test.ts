// The secret box: what it seals opens only with its context, under a key the
// box holds, unaltered; sealing never repeats a nonce; old keys still open.
import { randomBytes } from "node:crypto";
import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { encryptionKeyId, SecretBox, SecretBoxError } from "../../src/service/secret-box.js";

const key = () => randomBytes(32);

describe("SecretBox", () => {
  test("opens what it sealed, for any bytes and context", () => {
    const box = SecretBox.ephemeral();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 64 }), (plain, context) => {
        expect(box.open(box.seal(Buffer.from(plain), context), context)).toEqual(Buffer.from(plain));
      }),
    );
  });

  test("the sealed text holds neither the plain text nor the key, and two seals of one value differ", () => {
    const k = key();
    const box = new SecretBox([k]);
    const a = box.seal("JBSWY3DPEHPK3PXP", "totp:u1");
    const b = box.seal("JBSWY3DPEHPK3PXP", "totp:u1");
    expect(a).not.toBe(b);
    for (const sealed of [a, b]) {
      expect(sealed).not.toContain("JBSWY3DPEHPK3PXP");
      expect(sealed).not.toContain(k.toString("base64url"));
      expect(sealed.split(".")[1]).toBe(encryptionKeyId(k));
    }
  });

  test("a value sealed for one record does not open for another", () => {
    const box = SecretBox.ephemeral();
    expect(() => box.open(box.seal("secret", "totp:alice"), "totp:mallory")).toThrow(SecretBoxError);
  });

  test("any altered byte makes it refuse, never open wrong", () => {
    const box = SecretBox.ephemeral();
    const sealed = box.seal("a secret worth keeping", "ctx");
    const [format, id, nonce, body] = sealed.split(".") as [string, string, string, string];
    const raw = Buffer.from(body, "base64url");
    for (let i = 0; i < raw.length; i++) {
      const changed = Buffer.from(raw);
      changed[i] = changed[i]! ^ 1;
      expect(() => box.open([format, id, nonce, changed.toString("base64url")].join("."), "ctx")).toThrow(
        SecretBoxError,
      );
    }
    const otherNonce = Buffer.from(nonce, "base64url");
    otherNonce[0] = otherNonce[0]! ^ 1;
    expect(() => box.open([format, id, otherNonce.toString("base64url"), body].join("."), "ctx")).toThrow(
      SecretBoxError,
    );
    for (const junk of ["", "v1", "v1.x.y", "v2.a.b.c", `${sealed}.extra`, "v1.00000000.AAAA.AAAA"]) {
      expect(() => box.open(junk, "ctx")).toThrow(SecretBoxError);
    }
  });

  test("rotation: the first key seals, an older key still opens, a box without the key names it", () => {
    const [oldKey, newKey] = [key(), key()];
    const sealedOld = new SecretBox([oldKey]).seal("v", "c");
    const rotated = new SecretBox([newKey, oldKey]);
    expect(rotated.open(sealedOld, "c").toString()).toBe("v");
    expect(rotated.isStale(sealedOld)).toBe(true);
    const sealedNew = rotated.seal("v", "c");
    expect(rotated.isStale(sealedNew)).toBe(false);
    expect(sealedNew.split(".")[1]).toBe(encryptionKeyId(newKey));
    expect(() => new SecretBox([oldKey]).open(sealedNew, "c")).toThrow(encryptionKeyId(newKey));
  });

  test("keys must be 32 bytes, and there must be one", () => {
    expect(() => new SecretBox([])).toThrow(SecretBoxError);
    expect(() => new SecretBox([randomBytes(16)])).toThrow(/32 bytes/);
  });
});
