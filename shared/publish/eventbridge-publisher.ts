import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { type CompletionEvent, EVENT_DETAIL_TYPE, EVENT_SOURCE } from '../contracts/index.ts';
import type { EventPublisher } from '../detach/ports.ts';

/** The EventPublisher port on an EventBridge bus. */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async publish(event: CompletionEvent): Promise<void> {
    const result = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.eventBusName,
            Source: EVENT_SOURCE,
            DetailType: EVENT_DETAIL_TYPE,
            Resources: [],
            Detail: JSON.stringify(event),
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures; an unpublished event must not be marked published.
    if ((result.FailedEntryCount ?? 0) > 0) {
      const entry = result.Entries?.[0];
      throw new Error(
        `PutEvents refused the event: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`,
      );
    }
  }
}
