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

// Every destination that is not a public internet address, after the IANA
// IPv4 and IPv6 Special-Purpose Address Registries (the ranges marked not
// globally reachable, and the documentation and relay ranges), plus the IPv6
// forms that carry an IPv4 address inside. Each range keeps its name, so a
// refusal says which rule it broke. Checked with net.BlockList, which also
// matches an IPv4-mapped IPv6 address (::ffff:10.0.0.1) against the IPv4 ranges.
const IPV4_RANGES: ReadonlyArray<readonly [string, number, string]> = [
  ["0.0.0.0", 8, '"this network"'],
  ["10.0.0.0", 8, "private use"],
  ["100.64.0.0", 10, "shared address space (carrier-grade NAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local (cloud metadata services live here)"],
  ["172.16.0.0", 12, "private use"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.0.2.0", 24, "documentation (TEST-NET-1)"],
  ["192.88.99.0", 24, "6to4 relay anycast"],
  ["192.168.0.0", 16, "private use"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation (TEST-NET-2)"],
  ["203.0.113.0", 24, "documentation (TEST-NET-3)"],
  ["224.0.0.0", 4, "multicast"],
  ["255.255.255.255", 32, "limited broadcast"],
  ["240.0.0.0", 4, "reserved"],
];

const IPV6_RANGES: ReadonlyArray<readonly [string, number, string]> = [
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  // Deprecated (RFC 4291): ::a.b.c.d, an IPv4 address in an IPv6 one.
  ["::", 96, "IPv4-compatible"],
  ["64:ff9b::", 96, "NAT64 (an IPv4 address inside)"],
  ["64:ff9b:1::", 48, "local-use IPv4/IPv6 translation"],
  ["100::", 64, "discard-only"],
  ["2001::", 32, "Teredo (an IPv4 address inside)"],
  ["2001:db8::", 32, "documentation"],
  ["2001::", 23, "IETF protocol assignments"],
  ["2002::", 16, "6to4 (an IPv4 address inside)"],
  ["3fff::", 20, "documentation"],
  ["5f00::", 16, "segment routing (SRv6) SIDs"],
  ["fc00::", 7, "unique local"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local (deprecated)"],
  ["ff00::", 8, "multicast"],
];

interface Range {
  cidr: string;
  name: string;
  list: net.BlockList;
}

function ranges(family: "ipv4" | "ipv6", table: ReadonlyArray<readonly [string, number, string]>): Range[] {
  return table.map(([prefix, bits, name]) => {
    const list = new net.BlockList();
    list.addSubnet(prefix, bits, family);
    return { cidr: `${prefix}/${bits}`, name, list };
  });
}

const named = (range: Range | undefined): string | undefined => range && `${range.cidr}, ${range.name}`;

const V4 = ranges("ipv4", IPV4_RANGES);
const V6 = ranges("ipv6", IPV6_RANGES);

/**
 * The special-purpose range an IP address is in, in words ("127.0.0.0/8,
 * loopback"), or undefined for a public internet address. Anything that is
 * not an IP address counts as not public.
 */
export function specialRange(address: string): string | undefined {
  const family = net.isIP(address);
  if (family === 4) return named(V4.find((r) => r.list.check(address, "ipv4")));
  if (family !== 6) return "not an IP address";
  const v6 = V6.find((r) => r.list.check(address, "ipv6"));
  if (v6) return named(v6);
  // Only an IPv4-mapped address (::ffff:a.b.c.d) matches an IPv4 range here.
  const mapped = V4.find((r) => r.list.check(address, "ipv6"));
  return mapped ? `${mapped.cidr} (IPv4-mapped), ${mapped.name}` : undefined;
}

/** Whether an IP address is private, loopback, link-local or otherwise not a public internet address. */
export function isPrivateAddress(address: string): boolean {
  return specialRange(address) !== undefined;
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
    for (const { address } of addresses) {
      const range = specialRange(address);
      if (range) {
        const which = address === host ? `${address} is in ${range}` : `${host} is ${address}, in ${range}`;
        throw new WebhookUrlError(
          `must not point to a private, loopback or link-local address, or any other special-purpose one (${which}); WEBHOOK_ALLOW_PRIVATE=true allows it`,
        );
      }
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
