import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * test/ and bench/ never import each other: what both need lives in support/. A benchmark that reached into the
 * tests' helpers (or a test into a benchmark) would tie a change of one to the other unseen.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPECIFIER = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g;

const sourcesUnder = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(dir, name));

/** Each relative import of a file, as a path from the repository's root. */
function importsOf(file: string, text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((match) =>
    relative(ROOT, resolve(ROOT, dirname(file), match[1] as string)),
  );
}

function crossings(from: string, to: string): string[] {
  // This file's own examples below are not imports.
  const self = relative(ROOT, fileURLToPath(import.meta.url));
  return sourcesUnder(from)
    .filter((file) => file !== self)
    .flatMap((file) =>
      importsOf(file, readFileSync(join(ROOT, file), 'utf8'))
        .filter((target) => target.startsWith(`${to}/`))
        .map((target) => `${file} imports ${target}`),
    );
}

describe('test/ and bench/ stay apart', () => {
  it('no file of test/ imports bench/, and none of bench/ imports test/', () => {
    expect([...crossings('test', 'bench'), ...crossings('bench', 'test')]).toEqual([]);
  });

  it('the check sees an import across, static or dynamic', () => {
    expect(importsOf('bench/x.ts', "import { a } from '../test/support/a.ts';")).toEqual([
      'test/support/a.ts',
    ]);
    expect(importsOf('test/x.ts', "const b = await import('../bench/b.ts');")).toEqual(['bench/b.ts']);
  });
});
