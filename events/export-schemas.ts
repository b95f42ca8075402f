import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { CompletionEvent, REQUEST_SCHEMAS } from '../shared/contracts/index.ts';

/** The JSON Schemas of the contracts, written to events/schemas; a test keeps them equal to the zod source. */
export const SCHEMAS: Record<string, z.ZodType> = {
  ...Object.fromEntries(
    Object.entries(REQUEST_SCHEMAS).map(([action, schema]) => [`${action}-request`, schema]),
  ),
  'completion-event': CompletionEvent,
};

export const schemaText = (schema: z.ZodType): string =>
  `${JSON.stringify(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    writeFileSync(new URL(`./schemas/${name}.schema.json`, import.meta.url), schemaText(schema));
  }
}
