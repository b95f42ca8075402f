export * from './completion-event.ts';
export * from './detach-request.ts';
export * from './webhook.ts';
