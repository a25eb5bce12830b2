/** What SSM does with a Command document, for the tests of the documents: check the parameters, substitute them. */

export interface DocumentParameter {
  readonly type: string;
  readonly default?: string;
  readonly allowedPattern?: string;
  readonly allowedValues?: readonly string[];
}
export interface CommandDocument {
  readonly schemaVersion: string;
  readonly parameters: Record<string, DocumentParameter>;
  readonly mainSteps: Array<{ action: string; inputs: { timeoutSeconds: string; runCommand: string[] } }>;
}

/** What SSM does with a Command document: check each parameter, then substitute {{ name }} into the script. */
export function render(content: Record<string, unknown>, values: Record<string, string>): string {
  const document = content as unknown as CommandDocument;
  const resolved: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(document.parameters)) {
    const value = values[name] ?? parameter.default;
    if (value === undefined) throw new Error(`parameter ${name} is required`);
    if (parameter.allowedValues && !parameter.allowedValues.includes(value)) throw new Error(`${name} not allowed`);
    if (parameter.allowedPattern && !new RegExp(parameter.allowedPattern).test(value)) {
      throw new Error(`${name} does not match ${parameter.allowedPattern}`);
    }
    resolved[name] = value;
  }
  const unknown = Object.keys(values).filter((name) => !(name in document.parameters));
  if (unknown.length > 0) throw new Error(`unknown parameters ${unknown.join(', ')}`);
  const [step] = document.mainSteps;
  return step.inputs.runCommand
    .join('\n')
    .replace(/\{\{ *([A-Za-z]+) *\}\}/g, (_whole, name: string) => resolved[name] ?? `{{${name}}}`);
}
