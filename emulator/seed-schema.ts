import { z } from 'zod';
import { EmulatorSeed } from './seed.ts';

export const SEED_SCHEMA_PATH = new URL('./seed.schema.json', import.meta.url);

/** The seed format as a JSON Schema (draft 2020-12), written to emulator/seed.schema.json. */
export const seedSchemaText = (): string =>
  `${JSON.stringify(
    z.toJSONSchema(
      EmulatorSeed.meta({
        title: 'scaling-detach cloud emulator seed',
        description:
          'The world the emulator starts with (or that POST /admin/seed replaces, POST /admin/seed/add extends): credentials, ESS scaling groups and instances, Tencent AS groups and instances. See emulator/README.md.',
      }),
      { target: 'draft-2020-12', io: 'input' },
    ),
    null,
    2,
  )}\n`;
