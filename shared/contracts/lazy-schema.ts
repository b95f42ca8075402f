/**
 * A schema built on its first use rather than at import. Building zod schemas is most of what importing the
 * contracts costs, and each function uses a few of them: the poller never parses a webhook answer, a request
 * function only its own action's request. The value stands for the schema in every use (parse, shape, methods,
 * inside other schemas); its first use builds it, once.
 */
export function lazySchema<T extends object>(build: () => T): T {
  let schema: T | undefined;
  const built = (): T => {
    schema ??= build();
    return schema;
  };
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(built(), key),
    has: (_, key) => Reflect.has(built(), key),
    ownKeys: () => Reflect.ownKeys(built()),
    // A proxy may not report a property its (empty) target lacks as non-configurable.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(built(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(built()),
    set: (_, key, value) => Reflect.set(built(), key, value),
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(built(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(built(), key),
  });
}
