/**
 * Cloud error messages may echo what signed the request: ESS's SignatureDoesNotMatch carries the server's
 * string to sign ("server string to sign is:POST&%2F&AccessKeyId%3D..."), V3 gateways print
 * "server StringToSign is [ACS3-HMAC-SHA256 <hash>]", and a message may name the access key. None of that may
 * leave the provider adapter: the message goes into events, the ledger and logs.
 */
const REDACTED = '[redacted]';

const RULES: readonly [RegExp, string][] = [
  // Everything from an echoed string to sign on: it is the request, canonicalised, keys included.
  [
    /\b(?:server\s+)?(?:string[\s_-]*to[\s_-]*sign|canonical[\s_-]*request)\b[\s\S]*$/i,
    `${REDACTED} (string to sign)`,
  ],
  // name=value and name: value pairs of the signing parameters and headers, plain or percent-encoded.
  [
    /\b(Signature|SignatureNonce|AccessKeyId|AccessKeySecret|SecurityToken|SecretId|SecretKey|Token|Credential|Authorization|x-acs-security-token|x-tc-token)(\s*(?:=|:|%3D|%253D)\s*)[^\s,&;"'\]]+/gi,
    `$1$2${REDACTED}`,
  ],
  // Alibaba (LTAI…, STS.…) and Tencent (AKID…) access key ids wherever they stand.
  [/\b(?:LTAI|AKID|STS\.)[A-Za-z0-9._-]{6,}/g, REDACTED],
  // Signatures and hashes: long hex (SHA-1 and up), base64 HMAC-SHA1 / HMAC-SHA256 digests.
  [/\b[A-Fa-f0-9]{40,}\b/g, REDACTED],
  [/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{27}=(?![A-Za-z0-9+/=])/g, REDACTED],
  [/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g, REDACTED],
];

/** The cloud's message with anything signature-like, string-to-sign-like or key-like replaced. */
export function scrubCloudMessage(message: string): string {
  return RULES.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message);
}
