/** qcloudapi-sdk 0.2.1 ships no types: the part of its API the emulator tests use. */
declare module 'qcloudapi-sdk' {
  interface QcloudApiOptions {
    SecretId?: string;
    SecretKey?: string;
    serviceType?: string;
    host?: string;
    path?: string;
    protocol?: string;
    method?: 'GET' | 'POST';
    signatureMethod?: 'sha1' | 'sha256';
    Region?: string;
  }
  export default class QcloudApi {
    constructor(defaults: QcloudApiOptions);
    request(
      data: Record<string, unknown>,
      opts: QcloudApiOptions,
      callback: (error: Error | null, body: unknown) => void,
    ): void;
  }
}
