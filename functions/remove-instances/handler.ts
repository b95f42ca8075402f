import { createRequestHandler } from '../sqs-request-handler.ts';

export const handler = createRequestHandler('remove-instances');
