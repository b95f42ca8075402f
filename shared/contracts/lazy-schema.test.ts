import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { lazySchema } from './lazy-schema.ts';

describe('lazySchema', () => {
  it('builds nothing at import, then the schema once, on its first use', () => {
    let builds = 0;
    const Point = lazySchema(() => {
      builds += 1;
      return z.object({ x: z.number(), y: z.number() });
    });
    expect(builds).toBe(0);

    expect(Point.parse({ x: 1, y: 2 })).toEqual({ x: 1, y: 2 });
    expect(Point.safeParse({ x: 'one' }).success).toBe(false);
    expect(Object.keys(Point.shape)).toEqual(['x', 'y']);
    expect(builds).toBe(1);
  });

  it('stands for the schema inside other schemas, in its methods and in zod type checks', () => {
    const Id = lazySchema(() => z.string().regex(/^id-\d+$/));
    const Item = z.object({ id: Id, tags: z.array(Id).optional() });

    expect(Item.parse({ id: 'id-1', tags: ['id-2'] })).toEqual({ id: 'id-1', tags: ['id-2'] });
    expect(Item.safeParse({ id: 'nope' }).error?.issues[0]?.path).toEqual(['id']);
    expect(Id.optional().parse(undefined)).toBeUndefined();
    expect(Id instanceof z.ZodString).toBe(true);
    expect(z.toJSONSchema(Item).properties?.id).toEqual({ type: 'string', pattern: '^id-\\d+$' });
  });

  it('keeps apart the options of a discriminated union', () => {
    const cat = () => z.strictObject({ kind: z.literal('cat'), lives: z.number() });
    const Cat = lazySchema(cat);
    const Dog = lazySchema(() => z.strictObject({ kind: z.literal('dog'), good: z.boolean() }));
    const Pet = lazySchema(() => z.discriminatedUnion('kind', [Cat, Dog]));

    expect(Pet.parse({ kind: 'dog', good: true })).toEqual({ kind: 'dog', good: true });
    expect(Pet.safeParse({ kind: 'cat', good: true }).success).toBe(false);
    // Spread reads every own property's descriptor, which a proxy must report as its target allows.
    expect(Object.keys({ ...Cat })).toEqual(Object.keys({ ...cat() }));
  });
});
