import { createHmac } from 'node:crypto';

export type V2SignatureMethod = 'HmacSHA1' | 'HmacSHA256';

/** Names as the v2 signature sees them: `_` becomes `.` (`instanceIds_0` -> `instanceIds.0`), except a leading one. */
export const v2SignedName = (name: string): string =>
  name.startsWith('_') ? name : name.replaceAll('_', '.');

/**
 * The legacy v2 string to sign (docs/reference/tencent-as.md §A6): METHOD + host + path + "?" + the parameters sorted
 * by name in byte order, `k=v` with the raw values, joined by `&`. The host has no scheme or port.
 */
export function v2StringToSign(
  method: string,
  host: string,
  path: string,
  params: Readonly<Record<string, string>>,
): string {
  const entries = Object.entries(params)
    .filter(([name]) => name !== 'Signature')
    .map(([name, value]) => [v2SignedName(name), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${method.toUpperCase()}${host}${path}?${entries.map(([name, value]) => `${name}=${value}`).join('&')}`;
}

/** HmacSHA256 when the parameters say `SignatureMethod=HmacSHA256`, HmacSHA1 otherwise. */
export function signV2(
  method: string,
  host: string,
  path: string,
  params: Readonly<Record<string, string>>,
  secretKey: string,
): string {
  const algorithm = params.SignatureMethod === 'HmacSHA256' ? 'sha256' : 'sha1';
  return createHmac(algorithm, secretKey)
    .update(v2StringToSign(method, host, path, params))
    .digest('base64');
}
