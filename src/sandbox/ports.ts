import net from 'node:net';

/**
 * Ports this process has handed out. A port is free again the moment freePort closes it, and a
 * store node binds its own only when the node agent starts its pod, well after the other
 * components took theirs: once, a later freePort returned rustfs-3's port to another listener,
 * and rustfs-3 failed to start ("Address already in use") for good.
 */
const handedOut = new Set<number>();

/** A loopback port free right now, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not allocate a loopback port'));
      });
    });
  });
}
