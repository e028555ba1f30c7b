/**
 * Which webhook URLs the edge may call (SSRF guard): `https` to a public host only. Refused with a reason:
 * other schemes, credentials in the URL, IP literals in loopback, private (RFC 1918, CGNAT, unique-local),
 * link-local (incl. the 169.254.169.254 cloud metadata address), multicast, unspecified or reserved ranges,
 * and names that only resolve inside a network (localhost, *.localhost, *.local, *.internal, *.home.arpa,
 * metadata.google.internal). Hosts on `allowHosts` (exact `host[:port]`, set by the local stack for its test
 * receiver) are let through, plain http included. Names are not resolved here (Workers have no DNS API); a public
 * name pointing at a private address is stopped by the platform, whose fetch cannot reach private networks.
 * Hand-written: the rules are a few CIDR checks, and no well-kept library targets the Workers runtime.
 * @module
 */

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_NAMES = /(^|\.)(localhost|local|internal|home\.arpa|localdomain)$/i;

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function blockedIpv4([a, b]: number[]): string | null {
  if (a === 0) return "an unspecified address";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "a private address";
  if (a === 100 && b >= 64 && b <= 127) return "a shared (CGNAT) address";
  if (a === 127) return "a loopback address";
  if (a === 169 && b === 254) return "a link-local or metadata address";
  if (a === 192 && b === 0) return "a reserved address";
  if (a === 198 && (b === 18 || b === 19)) return "a benchmarking address";
  if (a >= 224) return "a multicast or reserved address";
  return null;
}

/** Expands an IPv6 literal (no brackets) into 8 16-bit groups; null when not IPv6. */
function ipv6Groups(host: string): number[] | null {
  if (!host.includes(":")) return null;
  let text = host.toLowerCase();
  // An embedded IPv4 tail (::ffff:127.0.0.1) becomes two groups.
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (tail) {
    const v4 = ipv4(tail[1]);
    if (!v4) return null;
    text = `${text.slice(0, -tail[1].length)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, rest] = text.split("::");
  if (text.split("::").length > 2) return null;
  const parse = (s: string) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const missing = 8 - left.length - right.length;
  const groups = rest === undefined ? left : [...left, ...Array(missing).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

function blockedIpv6(g: number[]): string | null {
  if (g.every((x) => x === 0)) return "an unspecified address";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "a loopback address";
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible: judge the IPv4 address.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    return blockedIpv4([g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff]);
  }
  if ((g[0] & 0xfe00) === 0xfc00) return "a unique-local (private) address";
  if ((g[0] & 0xffc0) === 0xfe80) return "a link-local address";
  if ((g[0] & 0xff00) === 0xff00) return "a multicast address";
  if (g[0] === 0x64 && g[1] === 0xff9b) return "a NAT64 address";
  return null;
}

export function checkWebhookUrl(raw: string, allowHosts: readonly string[] = []): UrlVerdict {
  if (!URL.canParse(raw)) return { ok: false, reason: "webhook_url is not a valid URL" };
  const url = new URL(raw);
  if (url.username || url.password) return { ok: false, reason: "webhook_url must not carry credentials" };
  if (allowHosts.includes(url.host) && (url.protocol === "https:" || url.protocol === "http:")) {
    return { ok: true, url };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "webhook_url must use https" };
  const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const v4 = ipv4(host);
  const v6 = v4 ? null : ipv6Groups(host);
  const blocked = v4
    ? blockedIpv4(v4)
    : v6
      ? blockedIpv6(v6)
      : BLOCKED_NAMES.test(host)
        ? "a local name"
        : null;
  if (blocked)
    return { ok: false, reason: `webhook_url points to ${blocked}; only public hosts are allowed` };
  if (!v4 && !v6 && !host.includes(".")) return { ok: false, reason: "webhook_url must name a public host" };
  return { ok: true, url };
}
