import { type Agent, request } from 'undici';
import type { CompletionEvent } from '../contracts/index.ts';
import type { CallbackSender } from '../detach/callbacks.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../signing/webhook-signature.ts';

/** POSTs the completion event as JSON, signed like the webhook (shared secret, timestamp, HMAC-SHA256). */
export class HttpCallbackSender implements CallbackSender {
  constructor(
    private readonly dispatcher: Agent,
    private readonly secret: () => Promise<string>,
  ) {}

  async send(url: string, event: CompletionEvent): Promise<void> {
    const body = JSON.stringify(event);
    const response = await request(url, {
      method: 'POST',
      dispatcher: this.dispatcher,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(await this.secret(), body),
      },
      body,
    });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`The callback URL answered HTTP ${response.statusCode}`);
    }
  }
}
