import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a callback never connects to in a deployed stage: where a caller's URL would reach our own side
 * (the Lambda runtime API on 127.0.0.1, the metadata service on 169.254.169.254, a VPC's private ranges).
 */
const REFUSED_RANGES: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this network", unspecified
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // CGNAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, instance metadata
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 96, 'ipv6'], // unspecified, loopback, IPv4-compatible
  ['::ffff:0:0', 96, 'ipv6'], // IPv4-mapped: would reach any IPv4 address, private ones included
  ['64:ff9b::', 96, 'ipv6'], // NAT64
  ['100::', 64, 'ipv6'], // discard
  ['fc00::', 7, 'ipv6'], // unique-local
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
];

// One list per family: a BlockList matches an IPv4 address against IPv4-mapped IPv6 rules too.
const refused = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [network, prefix, family] of REFUSED_RANGES) refused[family].addSubnet(network, prefix, family);

/** True for an IP address a callback must not reach; `address` without brackets. */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  const name = family === 4 ? 'ipv4' : 'ipv6';
  return refused[name].check(address, name);
}

/** Raised inside the socket's lookup: the name resolved to a refused address. */
export class RefusedAddressError extends Error {
  readonly code = 'ECALLBACKREFUSED';
  constructor() {
    super('The callback host resolves to an address that is not allowed.');
  }
}

/**
 * A `lookup` for net/tls.connect that resolves as usual and then refuses the connection when any address of the
 * name is refused. It runs for every new connection, after resolution, so a name that later resolves
 * elsewhere (DNS rebinding) is checked again on what the socket will actually connect to.
 */
export function guardedLookup(resolve: LookupFunction = dnsLookup as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      if (list.length === 0 || list.some(({ address }) => isRefusedAddress(address))) {
        return callback(new RefusedAddressError(), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}
