// Starts a server on a loopback port and resolves once it listens.
import type { Server } from "node:net";

export function listenOn(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}
