import net from 'node:net';

/**
 * The store's Service on loopback: a TCP proxy that sends each new connection to one of the
 * ready store nodes, in turn, as kube-proxy does with a Service's ready endpoints. A node leaves
 * the rotation when its pod stops being Ready, and is drained before its process stops (its
 * open connections end first, as endpoints are removed before a terminating pod is signalled).
 * With no ready node, a connection is closed at once: a Service with no endpoints refuses.
 */
export class LoadBalancer {
  private server: net.Server | undefined;
  private readonly ready = new Set<number>();
  private readonly open = new Map<number, Set<net.Socket>>();
  private next = 0;

  constructor(readonly port: number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The node ports connections go to now. */
  readyPorts(): number[] {
    return [...this.ready].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** The node on `port` joins (true) or leaves (false) the rotation for new connections. */
  setReady(port: number, ready: boolean): void {
    if (ready) this.ready.add(port);
    else this.ready.delete(port);
  }

  /**
   * Takes the node out of the rotation and waits until its open connections end, at most
   * `graceMs` (then they are cut, as a terminating pod's are after its grace period).
   */
  async drain(port: number, graceMs = 5_000): Promise<void> {
    this.setReady(port, false);
    const deadline = Date.now() + graceMs;
    while ((this.open.get(port)?.size ?? 0) > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const socket of this.open.get(port) ?? []) socket.destroy();
  }

  async stop(): Promise<void> {
    for (const sockets of this.open.values()) for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private forward(client: net.Socket): void {
    const ports = this.readyPorts();
    if (ports.length === 0) {
      client.destroy();
      return;
    }
    const port = ports[this.next++ % ports.length]!;
    const upstream = net.connect(port, '127.0.0.1');
    const sockets = this.open.get(port) ?? new Set<net.Socket>();
    this.open.set(port, sockets);
    sockets.add(client);
    const end = () => {
      sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
