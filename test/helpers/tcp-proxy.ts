/**
 * A TCP proxy on a loopback port that a test can cut and restore: a network
 * partition between one client (an agent) and its server (nats-server), made at the
 * socket level, not by stopping either side.
 *
 * `cut()` destroys every proxied connection (both ends see them drop) and closes the
 * listening socket, so reconnect attempts are refused; `restore()` listens again on
 * the same port, so the client's reconnect loop finds its server again.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface TcpProxy {
  /** The loopback port clients connect to. */
  readonly port: number;
  /** Connections proxied since the start (each reconnect is one more). */
  readonly accepted: number;
  /** Connections open right now. */
  readonly open: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Takes connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

function closeListener(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) resolve();
    else server.close(() => resolve());
  });
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? "127.0.0.1";
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const upstream = tcpConnect({ host, port: target.port });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // Either side going away ends both, as a real connection through a router would.
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await listen(server, 0);
  const dropAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    async cut() {
      const closed = closeListener(server);
      dropAll();
      await closed;
    },
    async restore() {
      if (!server.listening) await listen(server, port);
    },
    async close() {
      const closed = closeListener(server);
      dropAll();
      await closed;
    },
  };
}
