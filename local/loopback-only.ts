import { Server } from 'node:net';

/**
 * Preloaded into serverless-offline (NODE_OPTIONS --import): a server that listens without naming a host
 * listens on 127.0.0.1 instead of every interface. The EventBridge plugin starts its mock bus and its MQTT
 * broker with `listen(port)` (the port a string from serverless.yml) and has no host option; serverless-offline names its host itself.
 */
const listen = Server.prototype.listen;
Server.prototype.listen = function listenOnLoopback(this: Server, ...args: unknown[]) {
  const [first, second] = args;
  const isPort = typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first));
  if (isPort && typeof second !== 'string')
    return listen.apply(this, [first, '127.0.0.1', ...args.slice(1)] as never);
  if (first && typeof first === 'object' && 'port' in first && !('host' in first) && !('path' in first))
    return listen.apply(this, [{ ...first, host: '127.0.0.1' }, ...args.slice(1)] as never);
  return listen.apply(this, args as never);
} as typeof listen;
