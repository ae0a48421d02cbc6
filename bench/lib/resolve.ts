// Resolve the broker name once, so 100k connections do not mean 100k DNS lookups, and
// prefer IPv4 because --source ranges are IPv4 ('localhost' may list ::1 first).
import dns from 'node:dns/promises';
import net from 'node:net';

export async function resolveBroker(host: string, wantIpv4: boolean): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  const all = await dns.lookup(host, { all: true });
  const v4 = all.find((a) => a.family === 4);
  if (v4 !== undefined) return v4.address;
  if (wantIpv4 || all.length === 0) throw new Error(`${host} has no IPv4 address`);
  return all[0].address;
}

export function hostPort(ip: string, port: number): string {
  return net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}
