import { readFileSync } from 'node:fs';
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';

/**
 * Checks the CloudFormation that `serverless package` wrote against the CDK's resource database:
 * resource types, property names (nested too), required properties, and every Ref / GetAtt / ${} target.
 * cfn-lint from npm is stale, hence this.
 */
type Spec = Awaited<ReturnType<typeof loadAwsServiceSpec>>;
type Json = unknown;
type PropertyType = {
  type: string;
  element?: PropertyType;
  types?: PropertyType[];
  reference?: { $ref: string };
};
type Properties = Record<string, { type: PropertyType; required?: boolean }>;

const isObject = (value: Json): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isIntrinsic = (value: Json) =>
  isObject(value) &&
  Object.keys(value).length === 1 &&
  /^(Ref|Fn::|Condition)/.test(Object.keys(value)[0] as string);

export function checkTemplate(template: Record<string, Json>, spec: Spec): string[] {
  const problems: string[] = [];
  const resources = (template.Resources ?? {}) as Record<
    string,
    { Type: string; Properties?: Record<string, Json> }
  >;
  const parameters = new Set(Object.keys((template.Parameters ?? {}) as object));
  const attributesOf = new Map<string, Set<string>>();

  for (const [logicalId, resource] of Object.entries(resources)) {
    const found = spec.lookup('resource', 'cloudFormationType', 'equals', resource.Type);
    if (found.length !== 1) {
      if (!resource.Type.startsWith('Custom::'))
        problems.push(`${logicalId}: unknown resource type ${resource.Type}`);
      continue;
    }
    const definition = found[0] as unknown as { properties: Properties; attributes: Record<string, unknown> };
    attributesOf.set(logicalId, new Set(Object.keys(definition.attributes)));
    checkProperties(spec, `${logicalId}`, definition.properties, resource.Properties ?? {}, problems);
  }

  const checkTarget = (where: string, target: string, attribute?: string) => {
    if (target.startsWith('AWS::')) return;
    if (attribute === undefined) {
      if (!resources[target] && !parameters.has(target)) problems.push(`${where}: Ref to unknown ${target}`);
      return;
    }
    const attributes = attributesOf.get(target);
    if (!resources[target]) problems.push(`${where}: GetAtt of unknown resource ${target}`);
    else if (attributes && !attributes.has(attribute) && !attribute.startsWith('Outputs.')) {
      problems.push(`${where}: ${target} has no attribute ${attribute}`);
    }
  };
  const walk = (where: string, value: Json): void => {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(`${where}[${i}]`, item);
      return;
    }
    if (!isObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'Ref' && typeof child === 'string') checkTarget(where, child);
      else if (key === 'Fn::GetAtt') {
        const [target, attribute] = Array.isArray(child)
          ? (child as string[])
          : String(child).split(/\.(.*)/);
        checkTarget(where, target as string, attribute as string);
      } else if (key === 'Fn::Sub') {
        const text = Array.isArray(child) ? child[0] : child;
        const locals = Array.isArray(child) && isObject(child[1]) ? Object.keys(child[1]) : [];
        for (const [, name] of String(text).matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const [target, attribute] = (name as string).split(/\.(.*)/);
          if (!locals.includes(target as string)) checkTarget(where, target as string, attribute);
        }
      }
      walk(`${where}.${key}`, child);
    }
  };
  walk('Resources', template.Resources);
  walk('Outputs', template.Outputs ?? {});
  return problems;
}

function checkProperties(
  spec: Spec,
  where: string,
  properties: Properties,
  given: Record<string, Json>,
  problems: string[],
) {
  for (const [name, property] of Object.entries(properties)) {
    if (property.required && !(name in given)) problems.push(`${where}: missing required property ${name}`);
  }
  for (const [name, value] of Object.entries(given)) {
    const property = properties[name];
    if (!property) {
      problems.push(`${where}: unknown property ${name}`);
      continue;
    }
    checkValue(spec, `${where}.${name}`, property.type, value, problems);
  }
}

function checkValue(spec: Spec, where: string, type: PropertyType, value: Json, problems: string[]) {
  if (isIntrinsic(value)) return;
  if (type.type === 'union') {
    const fits = (type.types ?? []).some((option) => {
      const trial: string[] = [];
      checkValue(spec, where, option, value, trial);
      return trial.length === 0;
    });
    if (!fits) checkValue(spec, where, (type.types ?? [])[0] as PropertyType, value, problems);
    return;
  }
  if (type.type === 'array' && Array.isArray(value) && type.element) {
    for (const [i, item] of value.entries()) {
      checkValue(spec, `${where}[${i}]`, type.element as PropertyType, item, problems);
    }
    return;
  }
  if (type.type === 'ref' && type.reference && isObject(value)) {
    const definition = spec.get('typeDefinition', type.reference.$ref) as unknown as {
      properties: Properties;
    };
    checkProperties(spec, where, definition.properties, value, problems);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = process.argv[2] ?? '.serverless/cloudformation-template-update-stack.json';
  const template = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Json>;
  const problems = checkTemplate(template, await loadAwsServiceSpec());
  if (problems.length > 0) {
    process.stderr.write(
      `CloudFormation check failed (${path}):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(
    `CloudFormation check passed: ${Object.keys(template.Resources as object).length} resources (${path})\n`,
  );
}
