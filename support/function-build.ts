import type { BuildOptions, Plugin } from 'esbuild';

/**
 * esbuild's options as serverless.yml's `custom.esbuild` gives them to every function (serverless-esbuild), for
 * the benches and tests that build a function's code themselves: the P5 variants, P3's poller child, the
 * plugins' tests. A copy of serverless.yml's, which test/template.test.ts holds to the resolved `custom.esbuild`.
 */
export async function functionBuildOptions(): Promise<BuildOptions & { plugins: Plugin[] }> {
  // The plugins serverless.yml names (plain JavaScript: the framework loads them as they are).
  const pluginsModule: string = '../functions/esbuild-plugins.js';
  const plugins: Plugin[] = (await import(pluginsModule)).default;
  return {
    bundle: true,
    minify: true,
    treeShaking: true,
    target: 'node24',
    platform: 'node',
    format: 'esm',
    mainFields: ['module', 'main'],
    define: { esbuildDetection: '1' },
    legalComments: 'none',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    plugins,
  };
}
