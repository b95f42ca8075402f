import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { EXIT, exitCodeOf, isFinal } from './cli.ts';
import { stackResources } from './resources.ts';
import { LOCAL_AWS } from './services.ts';
import type { LocalEndpoints } from './stack-file.ts';

type ErrorLike = { code: string; message: string };

/** What a status line says of a record: its status, activity, and for an end that is not a success, why. */
export function statusLine(record: {
  status: string;
  activityId?: string | undefined;
  lastError?: ErrorLike | undefined;
  event?: { error?: ErrorLike | undefined } | undefined;
}): string {
  const error = isFinal(record.status) ? (record.event?.error ?? record.lastError) : undefined;
  return [
    record.status,
    ...(record.activityId ? [`activity ${record.activityId}`] : []),
    ...(error ? [`${error.code}: ${error.message}`] : []),
  ].join(' ');
}

/**
 * Follows a request's ledger record on the local stack until its completion event is published, printing each
 * new status line, then the event. Returns the exit code of its end (EXIT.otherEnd after five minutes).
 */
export async function followOnLedger(endpoints: LocalEndpoints, requestId: string): Promise<number> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: endpoints.dynamodb, maxAttempts: 1 });
  const ledger = new DynamoDbLedger(client, stackResources('local').ledgerTable);
  try {
    let last = '';
    for (let i = 0; i < 600; i++) {
      const record = await ledger.get(requestId);
      const line = record ? statusLine(record) : 'QUEUED (not yet read)';
      if (line !== last) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
      if (record?.event && record.eventPublishedAt && isFinal(record.status)) {
        process.stdout.write(`completion event:\n${JSON.stringify(record.event, null, 2)}\n`);
        return exitCodeOf(record.event.status);
      }
      await sleep(500);
    }
    process.stderr.write(
      `gave up waiting for ${requestId} after 5 minutes (the request may still end; sending it again does nothing new)\n`,
    );
    return EXIT.otherEnd;
  } finally {
    client.destroy();
  }
}
