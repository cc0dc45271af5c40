// Caps on open connections, for the whole server and per client address,
// checked when a connection is accepted (before a byte of it is read): one
// client, or a flood of idle connections, cannot take every file descriptor
// and so the port from everyone else.

export type ConnectionLimit = "server" | "address";

export class ConnectionCaps {
  private open = 0;
  private readonly perAddress = new Map<string, number>();

  /** 0 means no cap. */
  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
  ) {}

  /** Takes a place for a new connection from `address`, or names the cap it would break. */
  admit(address: string): ConnectionLimit | undefined {
    if (this.maxConnections > 0 && this.open >= this.maxConnections) return "server";
    const mine = this.perAddress.get(address) ?? 0;
    if (this.maxPerAddress > 0 && mine >= this.maxPerAddress) return "address";
    this.open++;
    this.perAddress.set(address, mine + 1);
    return undefined;
  }

  /** Gives back the place of a connection admit() let in, once it has closed. */
  release(address: string): void {
    this.open--;
    const mine = (this.perAddress.get(address) ?? 1) - 1;
    if (mine === 0) this.perAddress.delete(address);
    else this.perAddress.set(address, mine);
  }

  get connections(): number {
    return this.open;
  }
}
