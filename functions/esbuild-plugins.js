import { mkdirSync, writeFileSync } from 'node:fs';
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

export default [esmPackageJson, undiciCore];
