export * from './completion-event.ts';
export * from './detach-request.ts';
export * from './ledger-record.ts';
export * from './webhook.ts';
