import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * RAM (Alibaba) and CAM (Tencent) policy documents, as far as the emulator evaluates them: Allow / Deny statements
 * over actions and resources with `*` and `?` wildcards, principals and string conditions (trust policies). RAM
 * spells its keys `Version` / `Statement` / `Effect` / `Action` / `Resource` / `Principal` / `Condition`, CAM the same
 * in lower case (and names actions `name/sts:AssumeRole` in trust policies); both read the same here.
 */

const OneOrMany = z.union([z.string(), z.array(z.string())]);
const manyOf = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : typeof value === 'string' ? [value] : value;

const Statement = z
  .looseObject({
    Effect: z.string().optional(),
    effect: z.string().optional(),
    Action: OneOrMany.optional(),
    action: OneOrMany.optional(),
    Resource: OneOrMany.optional(),
    resource: OneOrMany.optional(),
    Principal: z.record(z.string(), OneOrMany).optional(),
    principal: z.record(z.string(), OneOrMany).optional(),
    Condition: z.record(z.string(), z.record(z.string(), OneOrMany)).optional(),
    condition: z.record(z.string(), z.record(z.string(), OneOrMany)).optional(),
  })
  .transform((s, context) => {
    const effect = (s.Effect ?? s.effect ?? '').toLowerCase();
    if (effect !== 'allow' && effect !== 'deny') {
      context.addIssue({ code: 'custom', message: 'Effect must be Allow or Deny' });
      return z.NEVER;
    }
    const actions = manyOf(s.Action ?? s.action).map((a) => a.replace(/^name\//, ''));
    if (actions.length === 0) {
      context.addIssue({ code: 'custom', message: 'a statement needs an Action' });
      return z.NEVER;
    }
    return {
      effect: effect as 'allow' | 'deny',
      actions,
      resources:
        s.Resource !== undefined || s.resource !== undefined ? manyOf(s.Resource ?? s.resource) : undefined,
      principals: Object.values(s.Principal ?? s.principal ?? {}).flatMap(manyOf),
      conditions: Object.entries(s.Condition ?? s.condition ?? {}).map(([operator, entries]) => ({
        operator,
        entries: Object.entries(entries).map(([key, values]) => ({ key, values: manyOf(values) })),
      })),
    };
  });

/** A policy document of either cloud, normalised. */
export const PolicyDocument = z
  .looseObject({
    Statement: z.array(Statement).optional(),
    statement: z.array(Statement).optional(),
  })
  .transform((d, context) => {
    const statements = d.Statement ?? d.statement;
    if (!statements) {
      context.addIssue({ code: 'custom', message: 'a policy needs a Statement list' });
      return z.NEVER;
    }
    return { statements };
  });
export type PolicyDocument = z.infer<typeof PolicyDocument>;

/** Where a seed takes a policy from: a file (docs/policies/*.json: the documents are the single source) or inline. */
const Values = z
  .record(z.string().regex(/^<[a-z0-9-]+>$/), z.union([z.string(), z.array(z.string()).min(1)]))
  .describe(
    'The placeholders of the document (`<member-account-id>`, `<external-id>`, ...) and their values; a list expands a string into one string per value.',
  );
export const PolicyRef = z.union([
  z.strictObject({
    file: z
      .string()
      .describe(
        'A JSON policy document; a relative path is relative to the seed file (or, in a seed posted to /admin/seed, to the emulator/ folder).',
      ),
    values: Values.optional(),
  }),
  z.strictObject({ document: z.record(z.string(), z.unknown()), values: Values.optional() }),
]);
export type PolicyRef = z.infer<typeof PolicyRef>;

const PLACEHOLDER = /<[a-z0-9-]+>/g;

/** The document with its placeholders filled in; a placeholder left unfilled is an error naming it. */
export function fillPlaceholders(document: unknown, values: Record<string, string | string[]> = {}): unknown {
  const fill = (text: string): string[] => {
    let results = [text];
    for (const [name, value] of Object.entries(values)) {
      const replacements = typeof value === 'string' ? [value] : value;
      results = results.flatMap((r) =>
        r.includes(name) ? replacements.map((v) => r.split(name).join(v)) : [r],
      );
    }
    const left = results.flatMap((r) => r.match(PLACEHOLDER) ?? []);
    if (left.length > 0) throw new Error(`placeholder ${left[0]} has no value (give it in "values")`);
    return results;
  };
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const filled = fill(node);
      return filled.length === 1 ? filled[0] : filled;
    }
    if (Array.isArray(node))
      return node.flatMap((item) => (typeof item === 'string' ? fill(item) : [walk(item)]));
    if (node && typeof node === 'object')
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
    return node;
  };
  return walk(document);
}

/** Reads and fills a seed's policy reference; `base` resolves relative file paths. Throws with a one-line reason. */
export function loadPolicy(ref: PolicyRef, base: URL): PolicyDocument {
  let raw: unknown;
  if ('file' in ref) {
    const url = new URL(ref.file, base);
    try {
      raw = JSON.parse(readFileSync(url, 'utf8'));
    } catch (error) {
      throw new Error(`cannot read policy ${ref.file}: ${(error as Error).message}`);
    }
  } else raw = ref.document;
  const parsed = PolicyDocument.safeParse(fillPlaceholders(raw, ref.values));
  if (!parsed.success)
    throw new Error(`not a policy document: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/** `*` any run of characters, `?` one; everything else literal. */
const wildcard = (pattern: string, flags = ''): RegExp =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
    flags,
  );

/** Actions compare without case (`ess:describe*` is `ess:Describe*`), as both clouds document. */
export const actionMatches = (pattern: string, action: string): boolean =>
  wildcard(pattern.replace(/^name\//, ''), 'i').test(action);

/**
 * A resource pattern against a resource's name. In a CAM six-part name (`qcs:project:service:region:account:
 * resource`) an empty project or region in the policy stands for any (inferred from the CAM resource description,
 * whose examples leave them empty for "all").
 */
export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern.startsWith('qcs:') && resource.startsWith('qcs:')) {
    const want = pattern.split(':');
    const have = resource.split(':');
    if (want.length === have.length && want.length >= 6) {
      const widened = want.map((part, i) => ((i === 1 || i === 3) && part === '' ? '*' : part)).join(':');
      return wildcard(widened).test(resource);
    }
  }
  return wildcard(pattern).test(resource);
}

type Statement = PolicyDocument['statements'][number];

function conditionsHold(statement: Statement, context: Record<string, string>): boolean {
  const lookup = (key: string) =>
    Object.entries(context).find(([name]) => name.toLowerCase() === key.toLowerCase())?.[1];
  return statement.conditions.every(({ operator, entries }) =>
    entries.every(({ key, values }) => {
      const actual = lookup(key);
      if (actual === undefined) return false;
      switch (operator.toLowerCase()) {
        case 'stringequals':
        case 'string_equal':
          return values.includes(actual);
        case 'stringlike':
        case 'string_like':
          return values.some((v) => wildcard(v).test(actual));
        default:
          // An operator the emulator does not know is a condition it cannot show to hold.
          return false;
      }
    }),
  );
}

export type Decision = 'allow' | 'explicitDeny' | 'implicitDeny';

/** Identity policies (a key's, a role's): an explicit Deny wins, then any Allow; nothing matching denies. */
export function decide(
  policies: readonly PolicyDocument[],
  action: string,
  resource: string,
  context: Record<string, string> = {},
): Decision {
  let allowed = false;
  for (const statement of policies.flatMap((p) => p.statements)) {
    if (!statement.actions.some((a) => actionMatches(a, action))) continue;
    if (!(statement.resources ?? ['*']).some((r) => resourceMatches(r, resource))) continue;
    if (!conditionsHold(statement, context)) continue;
    if (statement.effect === 'deny') return 'explicitDeny';
    allowed = true;
  }
  return allowed ? 'allow' : 'implicitDeny';
}

/**
 * A trust policy (Alibaba's role trust policy, Tencent's role carrier policy): whether `callerAccount`'s identity may
 * assume the role with `context` (the external id). A principal `acs:ram::<id>:root` / `qcs::cam::uin/<id>:root`
 * trusts every identity of that account (which then needs sts:AssumeRole in its own policy as well); `*` trusts any.
 */
export function trusts(
  policy: PolicyDocument,
  cloud: 'aliyun' | 'tencent',
  callerAccount: string,
  context: Record<string, string>,
): boolean {
  const root = cloud === 'aliyun' ? `acs:ram::${callerAccount}:root` : `qcs::cam::uin/${callerAccount}:root`;
  let allowed = false;
  for (const statement of policy.statements) {
    if (!statement.actions.some((a) => actionMatches(a, 'sts:AssumeRole'))) continue;
    if (!statement.principals.some((p) => p === '*' || p === root || p === callerAccount)) continue;
    if (!conditionsHold(statement, context)) continue;
    if (statement.effect === 'deny') return false;
    allowed = true;
  }
  return allowed;
}

/**
 * Whether a key may make a call: undefined when it may, else the cloud's message naming the missing permission.
 * `scope` is what the call acts on, from which the API's resource name is made.
 */
export type Permit = (
  accessKeyId: string,
  action: string,
  scope: { region: string; groupId?: string | undefined },
) => string | undefined;
