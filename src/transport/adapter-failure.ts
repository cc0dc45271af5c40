// The last catch of an adapter (Connect or M3O): a failure landing there made
// no answer of its call, so it is never swallowed. A caller that went away
// mid-answer is normal and logged at debug; anything else is a bug of ours and
// logged as an error (the path only: never headers or a body, which may hold
// secrets).
import type { Logger } from "../observability/logger.js";
import type { RequestHandler } from "./listener.js";

type Request = Parameters<RequestHandler>[0];

export function logAdapterFailure(logger: Logger, adapter: string, req: Request, err: unknown): void {
  const line = { adapter, path: (req.url ?? "").split("?", 1)[0], err };
  const gone = "stream" in req ? req.stream.destroyed : req.socket.destroyed;
  if (gone) logger.debug(line, "caller went away before the answer was sent");
  else logger.error(line, "answer failed unexpectedly");
}
