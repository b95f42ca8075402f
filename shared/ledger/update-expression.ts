/**
 * A DynamoDB update expression built from named parts, instead of nested template strings: every attribute
 * goes through a name placeholder (reserved words such as `status` need one) and every value through a value
 * placeholder, so no caller writes either by hand. No kept library fits: DynamoDB Toolbox and ElectroDB are
 * whole modelling layers, and the document client takes only the finished strings.
 */
export class UpdateExpression {
  readonly #set: string[] = [];
  readonly #remove: string[] = [];
  readonly #add: string[] = [];
  readonly #conditions: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};

  /** `SET name = value`; an undefined value is left out. */
  set(name: string, value: unknown): this {
    if (value !== undefined) this.#set.push(`${this.#name(name)} = ${this.#value(value)}`);
    return this;
  }

  /** `SET name = if_not_exists(name, value)`. */
  setIfAbsent(name: string, value: unknown): this {
    const placeholder = this.#name(name);
    this.#set.push(`${placeholder} = if_not_exists(${placeholder}, ${this.#value(value)})`);
    return this;
  }

  remove(...attributeNames: string[]): this {
    for (const name of attributeNames) this.#remove.push(this.#name(name));
    return this;
  }

  /** `ADD name value` (a number, or a set to union). */
  add(name: string, value: unknown): this {
    this.#add.push(`${this.#name(name)} ${this.#value(value)}`);
    return this;
  }

  /** A condition joined with AND; `{name}` and `{value}` in it stand for placeholders of these. */
  when(condition: string, refs: { names?: string[]; values?: unknown[] } = {}): this {
    let text = condition;
    for (const name of refs.names ?? []) text = text.replace('{name}', this.#name(name));
    for (const value of refs.values ?? []) text = text.replace('{value}', this.#value(value));
    this.#conditions.push(`(${text})`);
    return this;
  }

  /** The parts of an UpdateItem (or a transaction's Update) request. */
  build(): {
    UpdateExpression: string;
    ConditionExpression?: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    const clauses = [
      this.#set.length > 0 ? `SET ${this.#set.join(', ')}` : '',
      this.#remove.length > 0 ? `REMOVE ${this.#remove.join(', ')}` : '',
      this.#add.length > 0 ? `ADD ${this.#add.join(', ')}` : '',
    ].filter(Boolean);
    return {
      UpdateExpression: clauses.join(' '),
      ...(this.#conditions.length > 0 && { ConditionExpression: this.#conditions.join(' AND ') }),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length > 0 && { ExpressionAttributeValues: this.values }),
    };
  }

  /** The conditions alone, for a request that updates nothing (a transaction's ConditionCheck, a DeleteItem). */
  buildCondition(): {
    ConditionExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    const { UpdateExpression: update, ConditionExpression, ...placeholders } = this.build();
    if (update !== '' || ConditionExpression === undefined)
      throw new Error('A condition alone has a condition and no update');
    return { ConditionExpression, ...placeholders };
  }

  #name(name: string): string {
    const placeholder = `#${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.names[placeholder] = name;
    return placeholder;
  }

  #value(value: unknown): string {
    const placeholder = `:v${Object.keys(this.values).length}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}
