import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { CompletionEvent, DetachInstancesRequest } from '../shared/contracts/index.ts';

/** The JSON Schemas of the contracts, written to events/schemas; a test keeps them equal to the zod source. */
export const SCHEMAS: Record<string, z.ZodType> = {
  'detach-instances-request': DetachInstancesRequest,
  'completion-event': CompletionEvent,
};

export const schemaText = (schema: z.ZodType): string =>
  `${JSON.stringify(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    writeFileSync(new URL(`./schemas/${name}.schema.json`, import.meta.url), schemaText(schema));
  }
}
