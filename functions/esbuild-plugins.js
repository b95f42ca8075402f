import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

/**
 * The bundles are ESM in `.js` files (so that `serverless invoke local`, which cannot load `.mjs`, runs them
 * too); Lambda reads them as ESM only with a package.json saying so beside them, which the zip
 * filter of serverless-esbuild keeps (it drops only the root package.json).
 */
const esmPackageJson = {
  name: 'esm-package-json',
  setup(build) {
    build.onEnd(() => {
      const outdir = build.initialOptions.outdir;
      if (!outdir) return;
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, 'package.json'), '{ "type": "module" }\n');
    });
  },
};

/**
 * undici's entry point is CommonJS and loads all of undici (fetch, WebSocket, caches, cookies, mocks: 570 KB
 * minified) when a function needs only `Agent`, `request` and `errors`. Our code's `undici` is this module
 * instead: those three from undici's own files, `request` made exactly as undici's index.js makes it (copied
 * from undici 8.12.4, index.js, MIT). It has no side effect a function that never calls it needs, so a bundle
 * that does not reach it (the webhook, the recorder) leaves undici out entirely.
 */
const UNDICI_CORE = `
import Agent from 'undici/lib/dispatcher/agent.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';
import errors from 'undici/lib/core/errors.js';
import util from 'undici/lib/core/util.js';
import { getGlobalDispatcher } from 'undici/lib/global.js';

Object.assign(Dispatcher.prototype, api);
const { InvalidArgumentError } = errors;

function makeDispatcher(fn) {
  return (url, opts, handler) => {
    if (typeof opts === 'function') {
      handler = opts;
      opts = null;
    }
    if (!url || (typeof url !== 'string' && typeof url !== 'object' && !(url instanceof URL))) {
      throw new InvalidArgumentError('invalid url');
    }
    if (opts != null && typeof opts !== 'object') {
      throw new InvalidArgumentError('invalid opts');
    }
    if (opts && opts.path != null) {
      if (typeof opts.path !== 'string') {
        throw new InvalidArgumentError('invalid opts.path');
      }
      let path = opts.path;
      if (!opts.path.startsWith('/')) {
        path = '/' + path;
      }
      url = new URL(util.parseOrigin(url).origin + path);
    } else {
      if (!opts) {
        opts = typeof url === 'object' ? url : {};
      }
      url = util.parseURL(url);
    }
    const { agent, dispatcher = getGlobalDispatcher(), ...restOpts } = opts;
    if (agent) {
      throw new InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
    }
    return fn.call(
      dispatcher,
      {
        ...restOpts,
        origin: url.origin,
        path: url.search ? url.pathname + url.search : url.pathname,
        method: opts.method || (opts.body ? 'PUT' : 'GET'),
      },
      handler,
    );
  };
}

export const request = makeDispatcher(api.request);
export { Agent, errors };
`;

const undiciCore = {
  name: 'undici-core',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) =>
      args.importer.includes('node_modules')
        ? undefined
        : { path: 'undici', namespace: 'undici-core', sideEffects: false },
    );
    build.onLoad({ filter: /.*/, namespace: 'undici-core' }, () => ({
      contents: UNDICI_CORE,
      loader: 'js',
      resolveDir: build.initialOptions.absWorkingDir ?? process.cwd(),
    }));
  },
};

/**
 * Node's built-in modules, reached through `require` (the banner's) rather than `import`: an ESM import of a
 * built-in makes Node build its ESM facade, which reads every export, lazy getters included; `node:http`'s load
 * Node's own copy of undici (for `WebSocket`, `EventSource`...), about 18 ms of a cold start for nothing.
 * `require` returns the module as it is, its getters untouched until used.
 */
const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) =>
      BUILTINS.has(args.path) && args.kind === 'import-statement' && args.namespace !== 'builtin-require'
        ? { path: args.path.replace(/^(node:)?/, 'node:'), namespace: 'builtin-require' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * The AWS SDK's default credential chain as a Lambda runs it: its first link, the environment (Lambda sets
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN for the function's role; so does the local
 * stack), copied from @aws-sdk/credential-provider-node 3.972.97, dist-es/defaultProvider.js (Apache-2.0). The
 * links after it (SSO, INI files, login, credential processes, web identity tokens, container and instance
 * metadata) are never reached in a Lambda, and weigh about 100 KB with the STS, SSO and sign-in clients they
 * bring: they end here in the chain's own last error.
 */
const ENV_CREDENTIAL_CHAIN = `
import { ENV_KEY, ENV_SECRET, fromEnv } from '@aws-sdk/credential-provider-env';
import { CredentialsProviderError, ENV_PROFILE } from '@smithy/core/config';
import { memoizeChain } from '@aws-sdk/credential-provider-node/dist-es/runtime/memoize-chain.js';

export const defaultProvider = (init = {}) =>
  memoizeChain(
    [
      async () => {
        if (init.profile ?? process.env[ENV_PROFILE]) {
          throw new CredentialsProviderError('AWS_PROFILE is set, skipping fromEnv provider.', {
            logger: init.logger,
            tryNextLink: true,
          });
        }
        return fromEnv(init)();
      },
      async () => {
        throw new CredentialsProviderError(
          'Could not load credentials from any providers (this bundle reads them from the environment only)',
          { tryNextLink: false, logger: init.logger },
        );
      },
    ],
    credentialsTreatedAsExpired,
  );
export const credentialsWillNeedRefresh = (credentials) => credentials?.expiration !== undefined;
export const credentialsTreatedAsExpired = (credentials) =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300000;
`;

/**
 * undici's llhttp parser in WebAssembly comes in two builds, with SIMD and without; it takes the other only
 * when the SIMD one does not compile, which never happens on Node 24 on arm64 or x86-64 (70 KB left out).
 */
const NO_NON_SIMD_PARSER = `throw new Error('undici: the llhttp build without WebAssembly SIMD is left out of this bundle');`;

/**
 * The X-Ray SDK's patcher of the AWS SDK v2 checks that SDK's version with semver, whose import builds some
 * forty regular expressions (3 ms of a cold start); we never patch the v2 SDK. Its one call, `gte`, loads
 * semver's `gte` when it is made.
 */
const LAZY_SEMVER = `module.exports = { gte: (a, b, loose) => require('semver/functions/gte.js')(a, b, loose) };`;

/**
 * undici's HTTP/2 client reads `http2.constants` at import, which loads `node:http2` (about 3 ms) in every
 * function, whether or not a server ever answers in HTTP/2. These are the ten constants it reads (RFC 9113
 * header names and nghttp2 error codes, as Node's `http2.constants` has them); `connect` loads the module on
 * the first HTTP/2 connection.
 */
const HTTP2_ON_FIRST_CONNECT = `module.exports = {
  constants: {
    HTTP2_HEADER_AUTHORITY: ':authority',
    HTTP2_HEADER_METHOD: ':method',
    HTTP2_HEADER_PATH: ':path',
    HTTP2_HEADER_SCHEME: ':scheme',
    HTTP2_HEADER_CONTENT_LENGTH: 'content-length',
    HTTP2_HEADER_EXPECT: 'expect',
    HTTP2_HEADER_STATUS: ':status',
    HTTP2_HEADER_PROTOCOL: ':protocol',
    NGHTTP2_NO_ERROR: 0,
    NGHTTP2_REFUSED_STREAM: 7,
  },
  connect: (...args) => require('node:http2').connect(...args),
};`;

/**
 * The AWS SDK's CRC32 (response checksums) checks at import whether `zlib.crc32` exists, which loads
 * `node:zlib` (2-5 ms) in every function. On Node 24 it always exists; this is the same class, copied from
 * @smithy/core 3.41.0, dist-es/submodules/checksum/crc32/Crc32Node.js (Apache-2.0), loading zlib on first use.
 */
const CRC32_ON_FIRST_USE = `
let crc32;
export class Crc32Node {
  digestLength = 4;
  value = 0;
  update(data) {
    crc32 ??= require('node:zlib').crc32;
    this.value = crc32(data, this.value);
  }
  digestSync() {
    return this.value >>> 0;
  }
  async digest() {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.digestSync(), false);
    return out;
  }
  reset() {
    this.value = 0;
  }
}
`;

/** Modules replaced by smaller ones with the behaviour a Lambda reaches; side-effect free, as the originals. */
const replaced = {
  name: 'replaced-modules',
  setup(build) {
    const replacements = [
      { filter: /^@aws-sdk\/credential-provider-node$/, contents: ENV_CREDENTIAL_CHAIN },
      {
        filter: /^\.\.\/llhttp\/llhttp-wasm\.js$/,
        importer: /[\\/]undici[\\/]/,
        contents: NO_NON_SIMD_PARSER,
      },
      { filter: /^semver$/, importer: /[\\/]aws-xray-sdk-core[\\/]/, contents: LAZY_SEMVER },
      { filter: /^node:http2$/, importer: /[\\/]undici[\\/]/, contents: HTTP2_ON_FIRST_CONNECT },
      {
        filter: /^\.\/crc32\/Crc32Node$/,
        importer: /[\\/]@smithy[\\/]core[\\/]/,
        contents: CRC32_ON_FIRST_USE,
      },
    ];
    for (const [index, { filter, importer }] of replacements.entries()) {
      build.onResolve({ filter }, (args) =>
        !importer || importer.test(args.importer)
          ? { path: String(index), namespace: 'replaced' }
          : undefined,
      );
    }
    build.onLoad({ filter: /.*/, namespace: 'replaced' }, (args) => ({
      contents: replacements[Number(args.path)].contents,
      loader: 'js',
      resolveDir: build.initialOptions.absWorkingDir ?? process.cwd(),
    }));
  },
};

/**
 * Our own modules are free of side effects at import (they declare: schemas, classes, functions), as
 * `"sideEffects": false` says of a package; so a module none of whose exports a function uses is left out of its
 * bundle whole, with the schemas it would build at import (the recorder reaches `composition.ts`, which imports
 * the cloud clients it never builds).
 */
const ownModulesWithoutSideEffects = {
  name: 'own-modules-without-side-effects',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === 'own' || args.importer.includes('node_modules') || args.namespace !== 'file')
        return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'own',
      });
      if (resolved.errors.length > 0 || resolved.path.includes('node_modules')) return resolved;
      return { ...resolved, sideEffects: false };
    });
  },
};

export default [esmPackageJson, undiciCore, builtinsByRequire, replaced, ownModulesWithoutSideEffects];
