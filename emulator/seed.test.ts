import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EmulatorSeed } from './seed.ts';
import { SEED_SCHEMA_PATH, seedSchemaText } from './seed-schema.ts';
import { DEFAULT_SEED_PATH } from './server.ts';

describe('the seed format', () => {
  it('emulator/seed.schema.json is the JSON Schema of the zod seed (npm run emulator:schema writes it)', () => {
    expect(readFileSync(SEED_SCHEMA_PATH, 'utf8')).toBe(seedSchemaText());
  });

  it('the default seed, the documented example, is a valid seed', () => {
    const parsed = EmulatorSeed.safeParse(JSON.parse(readFileSync(DEFAULT_SEED_PATH, 'utf8')));

    expect(parsed.success).toBe(true);
  });

  it('refuses a group without its region', () => {
    const parsed = EmulatorSeed.safeParse({
      aliyun: { scalingGroups: [{ scalingGroupId: 'asg-1', minSize: 0, maxSize: 1 }] },
    });

    expect(parsed.success).toBe(false);
  });
});
