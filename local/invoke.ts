import { spawnSync } from 'node:child_process';
import { LOCAL_AWS } from './services.ts';
import { DEFAULT_PORTS } from './stack.ts';

/**
 * `serverless invoke local` against the stack that `npm start` runs: same AWS endpoints and settings as the
 * functions get there. Usage: npm run invoke -- detachInstances events/detach-instances.sqs.json
 */
const [functionName, eventPath] = process.argv.slice(2);
if (!functionName || !eventPath) {
  process.stderr.write('usage: npm run invoke -- <function> <event file>\n');
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  [
    'node_modules/serverless/bin/serverless.js',
    'invoke',
    'local',
    '--stage',
    'local',
    '--function',
    functionName,
    '--path',
    eventPath,
  ],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      SLS_TELEMETRY_DISABLED: '1',
      AWS_REGION: LOCAL_AWS.region,
      AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${DEFAULT_PORTS.sqs}`,
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${DEFAULT_PORTS.dynamodb}`,
      AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${DEFAULT_PORTS.eventBridge}`,
      ESS_ENDPOINT: `http://127.0.0.1:${DEFAULT_PORTS.emulator}`,
      TENCENT_AS_ENDPOINT: `http://127.0.0.1:${DEFAULT_PORTS.emulator}`,
      TENCENT_V2_ENDPOINT: `http://127.0.0.1:${DEFAULT_PORTS.emulator}`,
    },
  },
);
process.exit(result.status ?? 1);
