// The ConnectError a call fails with; the test fails when the call succeeds.
import { ConnectError } from "@connectrpc/connect";

export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error(
    `expected the call to fail, it returned ${JSON.stringify(result, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`,
  );
}
