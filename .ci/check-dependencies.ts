import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm audit` cannot be reached from CI (the advisory endpoint answers 405), so CI records the production
 * dependency tree (`npm ls --omit=dev`, in .ci/out/production-dependencies.txt) and fails on a production
 * dependency that nothing imports: not the functions' code (functions/, shared/, tests excluded), and not a peer
 * dependency that an imported package needs at run time (@aws-sdk/client-ssm for Powertools Parameters).
 */
const PRODUCTION_CODE = ['functions', 'shared'];

/** The package an import specifier names: `@scope/name` or `name`, without a subpath; undefined if relative or node:. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every package named by a static import, an export-from, a dynamic import() or a require() in the source. */
export function importedPackages(source: string): Set<string> {
  const found = new Set<string>();
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const [, specifier] of source.matchAll(pattern)) {
      const name = packageOf(specifier as string);
      if (name) found.add(name);
    }
  }
  return found;
}

/** Production dependencies neither imported nor needed as a peer of one that is. */
export function unusedDependencies(
  dependencies: readonly string[],
  imported: ReadonlySet<string>,
  peersOf: (name: string) => readonly string[],
): string[] {
  const used = new Set<string>();
  const visit = (name: string) => {
    if (used.has(name)) return;
    used.add(name);
    for (const peer of peersOf(name)) visit(peer);
  };
  for (const name of imported) if (dependencies.includes(name)) visit(name);
  return dependencies.filter((name) => !used.has(name));
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter(
      (entry) => entry.isFile() && /\.(ts|js|mjs|cjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name),
    )
    .map((entry) => join(entry.parentPath, entry.name));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const dependencies = Object.keys(manifest.dependencies ?? {});
  mkdirSync('.ci/out', { recursive: true });
  const tree = execFileSync('npm', ['ls', '--omit=dev', '--all'], { encoding: 'utf8' });
  writeFileSync('.ci/out/production-dependencies.txt', tree);

  const imported = new Set<string>();
  for (const file of PRODUCTION_CODE.flatMap(sourceFiles)) {
    for (const name of importedPackages(readFileSync(file, 'utf8'))) imported.add(name);
  }
  // Only peers that are installed count (optional peers of Powertools, for instance, are not).
  const peersOf = (name: string) => {
    try {
      const peer = JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as {
        peerDependencies?: Record<string, string>;
      };
      return Object.keys(peer.peerDependencies ?? {});
    } catch {
      return [];
    }
  };
  const unused = unusedDependencies(dependencies, imported, peersOf);
  process.stdout.write(
    `Production dependencies (${dependencies.length}) recorded in .ci/out/production-dependencies.txt\n`,
  );
  if (unused.length > 0) {
    process.stderr.write(
      `Production dependencies nothing imports (remove them, or make them devDependencies):\n${unused.map((n) => `  - ${n}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(
    'Every production dependency is imported by the functions or needed by one that is.\n',
  );
}
