// Where webhooks may be sent. A webhook URL is chosen by whoever holds an
// admin key, but the request is made from inside our network: without these
// checks it would reach internal services (server-side request forgery).
// Checked when an endpoint is added and again at every delivery, against the
// addresses the name resolves to then (a name that resolved to a public
// address when added may resolve to 127.0.0.1 later: DNS rebinding). The
// connection goes to the address that was checked, never to a second lookup.
import dns from "node:dns/promises";
import net from "node:net";

export const WEBHOOK_URL_MAX = 2048;

const blocked = new net.BlockList();
for (const [prefix, bits] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata services live here)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 3], // multicast, reserved, broadcast
] as const) {
  blocked.addSubnet(prefix, bits, "ipv4");
}
for (const [prefix, bits] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["64:ff9b::", 96], // NAT64: an IPv4 address inside
  ["2001:db8::", 32], // documentation
] as const) {
  blocked.addSubnet(prefix, bits, "ipv6");
}

/** Whether an IP address is private, loopback, link-local or otherwise not a public internet address. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family !== 6) return true;
  // An IPv4-mapped address (::ffff:10.0.0.1) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, "ipv4");
  return blocked.check(address, "ipv6");
}

export class WebhookUrlError extends Error {}

/** The URL's own rules (no lookup): http(s), no credentials, a host, bounded length. */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length > WEBHOOK_URL_MAX) throw new WebhookUrlError(`must be at most ${WEBHOOK_URL_MAX} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError("must be an absolute http or https URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new WebhookUrlError("must be http or https");
  if (url.username !== "" || url.password !== "") {
    throw new WebhookUrlError("must not carry credentials (user:password@); the signature authenticates the sender");
  }
  if (url.hostname === "") throw new WebhookUrlError("must name a host");
  if (url.hash !== "") throw new WebhookUrlError("must not have a #fragment");
  return url;
}

export interface ResolvedTarget {
  address: string;
  family: 4 | 6;
}

/**
 * The address to connect to for this URL: every address the host resolves to
 * must be public (unless allowPrivate), or the URL is refused.
 */
export async function resolveTarget(url: URL, allowPrivate: boolean): Promise<ResolvedTarget> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: Array<{ address: string; family: number }>;
  if (net.isIP(host)) {
    addresses = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addresses = await dns.lookup(host, { all: true, verbatim: true });
    } catch {
      throw new WebhookUrlError(`host ${host} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new WebhookUrlError(`host ${host} does not resolve`);
  if (!allowPrivate) {
    const inside = addresses.find((a) => isPrivateAddress(a.address));
    if (inside) {
      throw new WebhookUrlError(
        `must not point to a private, loopback or link-local address (${host} is ${inside.address}); WEBHOOK_ALLOW_PRIVATE=true allows it`,
      );
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
