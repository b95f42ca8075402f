import { createRequestHandler } from '../sqs-request-handler.ts';

export const handler = createRequestHandler('detach-alb-server-groups');
