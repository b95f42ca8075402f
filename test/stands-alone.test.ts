import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The repository stands alone: no file reads, imports, links or names a path outside it. A clone in any
 * directory has nothing beside it, so such a reference would break or mislead there (.ci/run also runs the
 * unit tests in such a copy).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOT_SOURCE = new Set(['node_modules', '.git', '.serverless', 'build', '.local', 'out']);

function repositoryFiles(): string[] {
  if (existsSync(join(ROOT, '.git')))
    return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter((file) => file && existsSync(join(ROOT, file)));
  // A copy without .git (the CI step): every file but build output and dependencies.
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir)).flatMap((name) => {
      if (NOT_SOURCE.has(name)) return [];
      const path = join(dir, name);
      return statSync(join(ROOT, path)).isDirectory() ? walk(path) : [path];
    });
  return walk('');
}

/** Names of the material the project was designed from, which lives outside the repository. */
const OUTSIDE_NAMES = [
  /\/work\//,
  /DESIGN\.md/,
  /shared\/(specs|seeds|notes|hooks)\b/,
  /(?<![\w/.-])(specs|seeds|notes)\/[\w.-]+\.(md|json)/,
];
/** A relative path that climbs: `../x`, `../../x`, as in imports, URLs and links. */
const CLIMBING_PATH = /(?<![\w.])((?:\.\.\/)+)([\w@-][\w@./-]*)?/g;

function referencesOutside(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    const at = `${file}:${index + 1}`;
    for (const pattern of OUTSIDE_NAMES) {
      const match = pattern.exec(line);
      if (match) found.push(`${at} names ${match[0]}`);
    }
    // docs/reference/ holds documents copied unchanged; their relative links are the original site's.
    if (file.startsWith('docs/reference/')) return;
    for (const match of line.matchAll(CLIMBING_PATH)) {
      const target = resolve(ROOT, dirname(file), match[0]);
      if (target !== ROOT.replace(/[/\\]$/, '') && !target.startsWith(ROOT.endsWith(sep) ? ROOT : ROOT + sep))
        found.push(`${at} points outside the repository: ${match[0]} (${relative(ROOT, target)})`);
    }
  });
  return found;
}

describe('the repository stands alone', () => {
  it('no file names or points to a path outside it', () => {
    const found = repositoryFiles()
      .filter((file) => file !== 'package-lock.json' && file !== 'test/stands-alone.test.ts')
      .flatMap((file) => {
        const bytes = readFileSync(join(ROOT, file));
        return bytes.includes(0) ? [] : referencesOutside(file, bytes.toString('utf8'));
      });

    expect(found).toEqual([]);
  });

  it('the check sees what it looks for', () => {
    // Assembled from parts, so that this file itself names no path outside the repository.
    const shelf = ['..', 'shared'].join('/');
    expect(
      referencesOutside(
        'shared/providers/aliyun/x.test.ts',
        `new URL('../../../${shelf}/${'specs'}/v.json')`,
      ),
    ).toHaveLength(2);
    expect(
      referencesOutside('README.md', `see [design](${shelf}/${'DESIGN'}.md) and ${'specs'}/aliyun-ess.md §5`),
    ).toHaveLength(3);
    expect(
      referencesOutside('local/send.ts', "import { x } from '../shared/ledger/dynamodb-ledger.ts';"),
    ).toEqual([]);
    expect(referencesOutside('shared/x.ts', '// docs/reference/seeds/aliyun-ess-DetachInstances.md')).toEqual(
      [],
    );
  });
});
