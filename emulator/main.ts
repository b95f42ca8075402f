import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadSeed, startEmulator } from './server.ts';

const logger = new Logger({ serviceName: 'cloud-emulator' });
const { values } = parseArgs({
  options: { port: { type: 'string', default: '9000' }, seed: { type: 'string' } },
});
const emulator = await startEmulator({
  port: Number(values.port),
  seed: values.seed ? loadSeed(values.seed) : loadSeed(),
});
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
