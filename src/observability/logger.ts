// Structured JSON logs (pino). Call log lines carry names, codes and timings
// only; as a second line of defence, fields that could ever hold a secret are
// redacted wherever they appear.
import { type DestinationStream, type Logger, pino } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

export const REDACTED_PATHS = [
  "password",
  "*.password",
  "old_password",
  "new_password",
  "confirm_password",
  "*.oldPassword",
  "*.newPassword",
  "*.confirmPassword",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "session_id",
  "*.session_id",
  "*.sessionId",
  "key",
  "*.key",
];

/**
 * JSON lines by default (for log collectors); readable colored lines when
 * stdout is a terminal and no destination is given.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  if (!destination && process.stdout.isTTY) {
    destination = PinoPretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" });
  }
  return pino(
    {
      level,
      base: { service: "users" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
