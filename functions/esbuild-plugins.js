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

export default [esmPackageJson];
