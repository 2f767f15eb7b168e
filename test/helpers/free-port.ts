/**
 * A TCP port that was free a moment ago: the OS hands one out for port 0 and we
 * release it. Another process may take it before the caller binds, so callers that
 * start servers retry on "address in use".
 */
import { createServer } from "node:net";

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port from the OS"))));
    });
  });
}
