import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import { describeSeedError } from './seed.ts';
import { DEFAULT_SEED_PATH, loadSeed, startEmulator } from './server.ts';

const logger = new Logger({ serviceName: 'cloud-emulator' });
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string' },
    'admin-token': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'scaling-detach-emulator [--port N (9000; 0 picks a free one)] [--host 127.0.0.1] [--seed file.json]\n' +
      '  [--admin-token T (or EMULATOR_ADMIN_TOKEN; /admin/* routes want it in x-emulator-admin-token)]\n' +
      'Alibaba Cloud ESS and Tencent Cloud AS on one port; the seed format is emulator/seed.schema.json.\n',
  );
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  logger.error('invalid port', { port: values.port });
  process.exit(2);
}
let seed: ReturnType<typeof loadSeed>;
try {
  seed = loadSeed(values.seed ?? DEFAULT_SEED_PATH);
} catch (error) {
  // One line a person can act on, never a stack trace: which file, which path in it, what is wrong.
  const reason =
    error instanceof z.ZodError
      ? describeSeedError(error)
      : error instanceof SyntaxError
        ? `not JSON (${error.message})`
        : (error as Error).message;
  process.stderr.write(`invalid seed ${values.seed ?? 'emulator/seed.default.json'}: ${reason}\n`);
  process.exit(2);
}
const adminToken = values['admin-token'] ?? process.env.EMULATOR_ADMIN_TOKEN;
const emulator = await startEmulator({ port, host: values.host, seed, ...(adminToken && { adminToken }) });
logger.info('cloud emulator listening', {
  url: emulator.url,
  seed: values.seed ?? 'emulator/seed.default.json',
});
const stop = async () => {
  await emulator.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
