import { describe, expect, it } from 'vitest';
import { importedPackages, packageOf, unusedDependencies } from '../.ci/check-dependencies.ts';

describe('the production dependency check that CI runs', () => {
  it('names the package of a specifier, scoped or not, and skips relative and node: ones', () => {
    expect(
      ['zod', '@middy/core', '@aws-lambda-powertools/logger/middleware', 'undici/x', './a.ts', 'node:fs'].map(
        packageOf,
      ),
    ).toEqual(['zod', '@middy/core', '@aws-lambda-powertools/logger', 'undici', undefined, undefined]);
  });

  it('finds static, type, side-effect, dynamic and require imports', () => {
    const source = [
      "import { z } from 'zod';",
      "import type { Context } from 'aws-lambda';",
      "import 'side-effect';",
      "export * from 'reexported';",
      "const lazy = await import('lazy-one');",
      "const legacy = require('old-one');",
      "import { x } from './local.ts';",
    ].join('\n');

    expect([...importedPackages(source)].sort()).toEqual(
      ['aws-lambda', 'lazy-one', 'old-one', 'reexported', 'side-effect', 'zod'].sort(),
    );
  });

  it('fails a dependency nothing imports, and keeps the peers an imported package needs', () => {
    const peers: Record<string, string[]> = { '@aws-lambda-powertools/parameters': ['@aws-sdk/client-ssm'] };

    expect(
      unusedDependencies(
        ['@aws-lambda-powertools/parameters', '@aws-sdk/client-ssm', 'zod', 'left-pad'],
        new Set(['@aws-lambda-powertools/parameters', 'zod', 'vitest']),
        (name) => peers[name] ?? [],
      ),
    ).toEqual(['left-pad']);
  });
});
