import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { functionBuildOptions } from '../support/function-build.ts';
import { median } from './stats.ts';

/**
 * P5: what `serverless package --stage prod` writes, function by function: the zip's size, and the time to
 * import its bundle (the module init a cold start pays for our code) in a fresh Node process with the function's
 * production environment from the template, median of RUNS, as deployed and with `--enable-source-maps`.
 */
const run = promisify(execFile);
/** Imports per function and variant; this machine's shared cores make single runs vary by 20-30 %. */
export const RUNS = 9;

type Intrinsic = string | number | { [key: string]: unknown } | unknown[];

/** The template's environment values, with intrinsics resolved as a stack with the default parameters would. */
function resolve(value: Intrinsic): string | undefined {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (Array.isArray(value)) return undefined;
  if ('Ref' in value) return value.Ref === 'AWS::NoValue' ? undefined : `https://sqs.example/${value.Ref}`;
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Intrinsic[]];
    return parts.map((part) => resolve(part) ?? '').join(separator);
  }
  // The only condition in the functions' environment is HasCallbackAllowlist, false by default.
  if ('Fn::If' in value) return resolve((value['Fn::If'] as Intrinsic[])[2] as Intrinsic);
  if ('Fn::GetAtt' in value) return `arn:aws:example:${(value['Fn::GetAtt'] as string[]).join('.')}`;
  return undefined;
}

/** Milliseconds to import the handler module, in its own process. */
async function importTime(dir: string, handler: string, env: Record<string, string>, nodeOptions: string[]) {
  const script =
    `const t = performance.now(); await import(${JSON.stringify(join(dir, handler))});` +
    'process.stdout.write(String(performance.now() - t)); process.exit(0);';
  const { stdout } = await run(process.execPath, [...nodeOptions, '--input-type=module', '-e', script], {
    env,
    cwd: dir,
  });
  return Number(stdout);
}

export interface BundleResult {
  name: string;
  zipBytes: number;
  jsBytes: number;
  mapBytes: number | undefined;
  initMs: number;
  initWithSourceMapsMs: number | undefined;
  /** The minimal Powertools function's init, median of the runs interleaved with this function's. */
  minimalInitMs: number;
}

export async function measureBundles(): Promise<{
  results: BundleResult[];
  nodeOptions: string;
  /** The poller's production environment, for measureVariants. */
  pollerEnv: Record<string, string>;
}> {
  const out = await mkdtemp(join(tmpdir(), 'scaling-detach-p5-'));
  const minimalRoot = await mkdtemp(join(tmpdir(), 'scaling-detach-p5-minimal-'));
  try {
    await run(
      'npx',
      ['serverless', 'package', '--stage', 'prod', '--region', 'eu-west-1', '--package', out],
      {
        env: {
          ...process.env,
          SLS_TELEMETRY_DISABLED: '1',
          SCALING_DETACH_ESBUILD_FOLDER: 'build/esbuild-bench',
        },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    const template = JSON.parse(
      await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    );
    // The yardstick, bundled as the functions are (bench/p5-minimal-function.ts).
    const esbuild = await import('esbuild');
    // In a folder of its own: `serverless package` empties the one it writes to.
    const minimalDir = join(minimalRoot, 'p5-minimal');
    await esbuild.build({
      ...(await functionBuildOptions()),
      entryPoints: ['bench/p5-minimal-function.ts'],
      outfile: join(minimalDir, 'handler.js'),
    });
    await writeFile(join(minimalDir, 'package.json'), '{ "type": "module" }\n');
    const results: BundleResult[] = [];
    let nodeOptions = '';
    let pollerEnv: Record<string, string> = {};
    for (const zip of (await readdir(out)).filter((f) => f.endsWith('.zip')).sort()) {
      const name = zip.slice(0, -'.zip'.length);
      const logicalId = `${name[0]?.toUpperCase()}${name.slice(1)}LambdaFunction`;
      const properties = template.Resources[logicalId].Properties;
      const dir = join(out, name);
      await run('unzip', ['-q', '-o', join(out, zip), '-d', dir]);
      const handler = `${(properties.Handler as string).split('.')[0]}.js`;
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'eu-west-1',
        AWS_LAMBDA_FUNCTION_NAME: `scaling-detach-prod-${name}`,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(properties.MemorySize ?? 512),
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        LAMBDA_TASK_ROOT: dir,
      };
      for (const [key, value] of Object.entries(
        properties.Environment.Variables as Record<string, Intrinsic>,
      )) {
        const resolved = resolve(value);
        if (resolved !== undefined) env[key] = resolved;
      }
      // The deployed NODE_OPTIONS are passed as flags, so that the run with source maps can add its own.
      const deployed = (env.NODE_OPTIONS ?? '')
        .split(' ')
        .filter((flag) => flag && flag !== '--enable-source-maps');
      nodeOptions = env.NODE_OPTIONS ?? '';
      delete env.NODE_OPTIONS;
      if (name === 'pollActivities') pollerEnv = env;
      const mapPath = join(dir, `${handler}.map`);
      const mapBytes = await stat(mapPath).then(
        (s) => s.size,
        () => undefined,
      );
      const initRuns: number[] = [];
      const mapRuns: number[] = [];
      const minimalRuns: number[] = [];
      // Interleaved, so that a slow moment of the machine falls on both.
      for (let i = 0; i < RUNS; i++) {
        initRuns.push(await importTime(dir, handler, env, deployed));
        minimalRuns.push(
          await importTime(minimalDir, 'handler.js', { ...env, LAMBDA_TASK_ROOT: minimalDir }, deployed),
        );
        if (mapBytes !== undefined)
          mapRuns.push(await importTime(dir, handler, env, [...deployed, '--enable-source-maps']));
      }
      results.push({
        name,
        zipBytes: (await stat(join(out, zip))).size,
        jsBytes: (await stat(join(dir, handler))).size,
        mapBytes,
        initMs: median(initRuns),
        initWithSourceMapsMs: mapBytes === undefined ? undefined : median(mapRuns),
        minimalInitMs: median(minimalRuns),
      });
    }
    return { results, nodeOptions, pollerEnv };
  } finally {
    await rm(out, { recursive: true, force: true });
    await rm(minimalRoot, { recursive: true, force: true });
    await rm('build/esbuild-bench', { recursive: true, force: true });
  }
}

export interface VariantResult {
  variant: string;
  zipBytes: number;
  jsBytes: number;
  initMs: number;
}

/**
 * The choices behind the deployed settings, measured on the poller's bundle (the largest but one, and the one
 * that runs every minute): each variant built with esbuild as serverless.yml `custom.esbuild` builds it (the same
 * options and plugins) but for one change, zipped, and imported as in measureBundles, in the poller's environment.
 */
/** The Tracer as a no-op, for the variant that measures what tracing costs (never deployed). */
const withoutTracer = {
  name: 'without-tracer',
  setup(build: {
    onResolve: (o: { filter: RegExp }, f: () => { path: string; namespace: string }) => void;
    onLoad: (o: { filter: RegExp; namespace: string }, f: () => { contents: string; loader: 'js' }) => void;
  }) {
    build.onResolve({ filter: /^@aws-lambda-powertools\/tracer(\/middleware)?$/ }, () => ({
      path: 'tracer',
      namespace: 'without-tracer',
    }));
    build.onLoad({ filter: /.*/, namespace: 'without-tracer' }, () => ({
      contents: `export class Tracer {
        captureAWSv3Client(client) { return client; }
        isTracingEnabled() { return false; }
        getSegment() { return undefined; }
      }
      export const captureLambdaHandler = () => ({ before: () => {} });`,
      loader: 'js',
    }));
  },
};

export async function measureVariants(pollerEnv: Record<string, string>): Promise<VariantResult[]> {
  const esbuild = await import('esbuild');
  const deployed = {
    ...(await functionBuildOptions()),
    entryPoints: ['functions/poll-activities/handler.ts'],
  };
  const plugins = deployed.plugins;
  const without = (name: string) => ({
    plugins: (plugins as { name: string }[]).filter((plugin) => plugin.name !== name),
  });
  const variants: { variant: string; options: object; flags: string[] }[] = [
    { variant: 'as deployed: minified, no source map', options: {}, flags: [] },
    {
      variant: "Node's built-ins imported as ES modules (not through `require`)",
      options: without('builtins-by-require'),
      flags: [],
    },
    {
      variant:
        "the SDK's whole credential chain and undici's non-SIMD parser bundled; semver, http2, zlib loaded at import",
      options: without('replaced-modules'),
      flags: [],
    },
    {
      variant: 'our modules not marked free of side effects',
      options: without('own-modules-without-side-effects'),
      flags: [],
    },
    {
      // Not a choice on offer: what tracing costs, for the decision to keep it (BENCHMARKS.md Goals).
      variant: 'without tracing (Powertools Tracer and the X-Ray SDK left out)',
      options: { plugins: [...plugins, withoutTracer] },
      flags: [],
    },
    {
      variant: 'with a linked source map in the zip, run with --enable-source-maps',
      options: { sourcemap: 'linked' },
      flags: ['--enable-source-maps'],
    },
    {
      variant: 'keepNames (original function names in stack traces)',
      options: { keepNames: true },
      flags: [],
    },
    {
      // The runtime's SDK is CommonJS under /var/runtime/node_modules; here the same packages' CommonJS
      // builds from node_modules stand in for it (the runtime's own version is whatever AWS ships that month).
      variant: "AWS SDK not bundled (the runtime's), CommonJS from node_modules",
      options: { external: ['@aws-sdk/*', '@smithy/*'] },
      flags: [],
    },
    { variant: 'not minified', options: { minify: false }, flags: [] },
  ];
  const root = await mkdtemp(join(tmpdir(), 'scaling-detach-p5-variants-'));

  try {
    const built: { variant: string; dir: string; flags: string[]; zipBytes: number; jsBytes: number }[] = [];
    for (const [i, v] of variants.entries()) {
      const dir = join(root, String(i));
      await esbuild.build({ ...deployed, ...v.options, outfile: join(dir, 'handler.js') });
      await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
      // The runtime's SDK is found from the task's directory; here, from the project's node_modules.
      if ('external' in v.options)
        await run('ln', ['-s', join(process.cwd(), 'node_modules'), join(dir, 'node_modules')]);
      await run(
        'zip',
        ['-q', '-r', '-9', join(root, `${i}.zip`), '.', '-x', 'node_modules', 'node_modules/*'],
        { cwd: dir },
      );
      built.push({
        variant: v.variant,
        dir,
        flags: v.flags,
        zipBytes: (await stat(join(root, `${i}.zip`))).size,
        jsBytes: (await stat(join(dir, 'handler.js'))).size,
      });
    }
    const runs = built.map(() => [] as number[]);
    for (let r = 0; r < RUNS; r++)
      for (const [i, b] of built.entries())
        runs[i]?.push(
          await importTime(b.dir, 'handler.js', { ...pollerEnv, LAMBDA_TASK_ROOT: b.dir }, b.flags),
        );
    return built.map((b, i) => ({
      variant: b.variant,
      zipBytes: b.zipBytes,
      jsBytes: b.jsBytes,
      initMs: median(runs[i] ?? []),
    }));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { results, nodeOptions, pollerEnv } = await measureBundles();
  await writeFile(
    '/dev/stdout',
    `${JSON.stringify({ nodeOptions, results, variants: await measureVariants(pollerEnv) }, null, 1)}\n`,
  );
}
