import { writeFileSync } from 'node:fs';
import { SEED_SCHEMA_PATH, seedSchemaText } from './seed-schema.ts';

writeFileSync(SEED_SCHEMA_PATH, seedSchemaText());
