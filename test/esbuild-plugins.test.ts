import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants as http2Constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionBuildOptions } from '../support/function-build.ts';

/**
 * The plugins of `custom.esbuild` (functions/esbuild-plugins.js) replace modules a Lambda never reaches, or
 * reaches late, with smaller ones: each replacement behaves as the original where a function uses it, and the
 * bundles hold only the replacements.
 */
const run = promisify(execFile);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scaling-detach-plugins-'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Bundles `contents` as serverless.yml does (as if it were the file `sourcefile`), runs it, returns its stdout. */
async function bundleAndRun(
  name: string,
  contents: string,
  env: Record<string, string> = {},
  sourcefile?: string,
) {
  const outfile = join(dir, `${name}.js`);
  await esbuild.build({
    ...(await functionBuildOptions()),
    stdin: { contents, resolveDir: process.cwd(), loader: 'js', ...(sourcefile && { sourcefile }) },
    outfile,
    logLevel: 'silent',
  });
  const { stdout } = await run(process.execPath, [outfile], {
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return stdout.trim();
}

describe('the bundles’ module replacements', () => {
  it("undici's HTTP/2 client reads Node's own http2 constants", async () => {
    const out = await bundleAndRun(
      'http2',
      "const http2 = require('node:http2'); console.log(JSON.stringify({ constants: http2.constants, connect: typeof http2.connect }));",
      {},
      join(process.cwd(), 'node_modules/undici/lib/dispatcher/probe.js'),
    );
    const { constants, connect } = JSON.parse(out) as { constants: Record<string, unknown>; connect: string };
    // The names undici's HTTP/2 client takes from http2.constants at import, read from its source.
    const source = readFileSync('node_modules/undici/lib/dispatcher/client-h2.js', 'utf8');
    const read = /const \{\s*constants: \{([^}]*)\}\s*\} = http2/.exec(source)?.[1]?.match(/\w+/g) ?? [];

    expect(read.length).toBeGreaterThan(0);
    expect(Object.keys(constants).sort()).toEqual([...read].sort());
    for (const name of read)
      expect(constants[name]).toBe(http2Constants[name as keyof typeof http2Constants]);
    expect(connect).toBe('function');
  });

  it("the AWS SDK's CRC32 gives zlib's checksum", async () => {
    const out = await bundleAndRun(
      'crc32',
      "import { Crc32 } from '@smithy/core/checksum'; const c = new Crc32(); c.update(Buffer.from('scaling-detach')); c.update(Buffer.from('!')); console.log(c.digestSync());",
    );

    expect(Number(out)).toBe(crc32('scaling-detach!'));
  });

  const credentials = `import { defaultProvider } from '@aws-sdk/credential-provider-node';
    defaultProvider()().then((c) => console.log(JSON.stringify(c)), (e) => console.log(JSON.stringify({ error: e.name, message: e.message })));`;

  it('the default credential chain reads the environment, as a Lambda sets it', async () => {
    const out = await bundleAndRun('credentials', credentials, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
    });

    expect(JSON.parse(out)).toMatchObject({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  it('without credentials in the environment the chain fails with its own error, and reads no file', async () => {
    const out = await bundleAndRun('no-credentials', credentials, { AWS_PROFILE: 'someone', HOME: dir });

    expect(JSON.parse(out)).toMatchObject({ error: 'CredentialsProviderError' });
  });
});

describe("the poller's bundle", () => {
  let inputs: string[];
  let builtIns: string[];
  beforeAll(async () => {
    const outfile = join(dir, 'poller.js');
    const result = await esbuild.build({
      ...(await functionBuildOptions()),
      entryPoints: ['functions/poll-activities/handler.ts'],
      outfile,
      metafile: true,
      logLevel: 'silent',
    });
    inputs = Object.keys(result.metafile.inputs);
    const probe = `const before = new Set(process.moduleLoadList); await import(${JSON.stringify(outfile)});
      console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m)))); process.exit(0);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'eu-west-1',
        LEDGER_TABLE: 'operations',
        EVENT_BUS_NAME: 'bus',
        ALIYUN_CREDENTIALS_PARAMETER: '/aliyun',
        POWERTOOLS_TRACE_ENABLED: 'false',
      },
    });
    builtIns = (JSON.parse(stdout) as string[]).map((m) => m.replace(/^NativeModule /, ''));
  });

  it('holds none of what it never reaches', () => {
    const unwanted = [
      /@aws-sdk\/credential-provider-(ini|sso|process|web-identity|http|login)\//,
      /@aws-sdk\/nested-clients\//,
      /undici\/lib\/llhttp\/llhttp-wasm\.js$/,
      /undici\/index\.js$/,
      /semver\/index\.js$/,
    ];
    for (const pattern of unwanted) expect(inputs.filter((input) => pattern.test(input))).toEqual([]);
    expect(inputs.some((input) => input.endsWith('undici/lib/llhttp/llhttp_simd-wasm.js'))).toBe(true);
  });

  it("loads neither Node's http2 nor zlib, nor Node's own undici, at import", () => {
    expect(builtIns).toContain('https');
    expect(builtIns.filter((m) => /^(http2|zlib|internal\/deps\/undici\/undici)$/.test(m))).toEqual([]);
  });
});
