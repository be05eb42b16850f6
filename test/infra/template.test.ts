import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTAINERS, IMMUTABLE_CONTAINERS, QUEUES, TABLES } from '../../shared/storage/names.js';
import { type ArmTemplate, loadTemplate, OUT, readJson, ROOT } from './arm.js';

/** Checks on the compiled ARM JSON (.bicep/out/main.json and the module templates). */

const main = loadTemplate();
const parameters = main.parameters ?? {};
const outputs = main.outputs ?? {};

const moduleTemplates: [string, ArmTemplate][] = readdirSync(join(OUT, 'app'))
  .filter((file) => file.endsWith('.json'))
  .map((file) => [`app/${file}`, loadTemplate(`app/${file}`)]);
const allTemplates: [string, ArmTemplate][] = [['main.json', main], ...moduleTemplates];

const isSecure = (type: string): boolean => type.toLowerCase().startsWith('secure');
const SECRET_NAME = /secret|password|pepper|token/i;

/** Follows `[variables('x')]` indirections, as `loadJsonContent` compiles to one. */
function variable(template: ArmTemplate, name: string): unknown {
  let value = template.variables?.[name];
  for (let depth = 0; depth < 5 && typeof value === 'string'; depth += 1) {
    const match = /^\[variables\('([^']+)'\)\]$/.exec(value);
    if (!match) break;
    value = template.variables?.[match[1] ?? ''];
  }
  return value;
}

describe('compiled template', () => {
  it('deploys at subscription scope and creates its own resource group', () => {
    expect(main.$schema).toContain('subscriptionDeploymentTemplate.json');
    expect(JSON.stringify(main.resources)).toContain('Microsoft.Resources/resourceGroups');
  });

  it('uses only local modules (no registry or linked templates)', () => {
    const sources = [join(ROOT, 'infra', 'main.bicep'), ...readdirSync(join(ROOT, 'infra', 'app')).map((f) => join(ROOT, 'infra', 'app', f))];
    for (const source of sources.filter((file) => file.endsWith('.bicep'))) {
      expect(readFileSync(source, 'utf8'), source).not.toMatch(/^\s*module\s+\w+\s+'(br|ts)[:/]/m);
    }
    expect(JSON.stringify(main)).not.toContain('templateLink');
  });

  it('describes every parameter of every template', () => {
    for (const [file, template] of allTemplates) {
      for (const [name, parameter] of Object.entries(template.parameters ?? {})) {
        expect(parameter.metadata?.description?.trim(), `${file}: ${name}`).toBeTruthy();
      }
    }
  });

  it('requires exactly the parameters an operator must decide', () => {
    const required = Object.entries(parameters)
      .filter(([, parameter]) => !('defaultValue' in parameter))
      .map(([name]) => name)
      .sort();
    expect(required).toEqual(['authAudience', 'authIssuer', 'authJwksUri', 'environmentName', 'location', 'tokenPeppers']);
  });

  it('takes the token peppers as a secure parameter without a default', () => {
    const peppers = parameters.tokenPeppers;
    expect(peppers?.type).toBe('securestring');
    expect(peppers).not.toHaveProperty('defaultValue');
    // "<version>:" plus the base64 of 32 bytes is at least 46 characters.
    expect(peppers?.minLength).toBe(46);
  });

  it('gives no secure parameter a default and keeps secret-looking names out of defaults', () => {
    for (const [file, template] of allTemplates) {
      for (const [name, parameter] of Object.entries(template.parameters ?? {})) {
        if (isSecure(parameter.type) || SECRET_NAME.test(name)) {
          expect(parameter, `${file}: ${name}`).not.toHaveProperty('defaultValue');
        }
        if (typeof parameter.defaultValue === 'string') {
          expect(parameter.defaultValue, `${file}: ${name}`).not.toMatch(/^[A-Za-z0-9]{1,8}:[A-Za-z0-9+/=_-]{40,}/);
        }
      }
    }
  });

  it('bounds parameters with allowed values and ranges', () => {
    expect(parameters.functionRuntimeVersion).toMatchObject({ allowedValues: ['20', '22'], defaultValue: '22' });
    expect(parameters.maximumInstanceCount).toMatchObject({ minValue: 40, maxValue: 1000 });
    expect(parameters.instanceMemoryMB).toMatchObject({ allowedValues: [512, 2048, 4096] });
    expect(parameters.environmentName).toMatchObject({ minLength: 1, maxLength: 64 });
    expect(parameters.principalType).toMatchObject({ allowedValues: ['User', 'ServicePrincipal'], defaultValue: 'User' });
    expect(parameters.keyVaultSoftDeleteRetentionInDays).toMatchObject({ minValue: 7, maxValue: 90 });
    expect(parameters.logRetentionInDays).toMatchObject({ minValue: 30, maxValue: 730 });
    expect(parameters.storageSkuName?.allowedValues).toContain('Standard_LRS');
    for (const name of ['authIssuer', 'authAudience', 'authJwksUri']) {
      expect(parameters[name]?.minLength, name).toBeGreaterThanOrEqual(1);
    }
    expect(parameters.location?.metadata?.azd).toEqual({ type: 'location' });
  });

  it('defaults the timer schedules', () => {
    expect(parameters.lifecycleSchedule?.defaultValue).toBe('0 */5 * * * *');
    expect(parameters.grantReviewSchedule?.defaultValue).toBe('0 */15 * * * *');
  });

  it('outputs what azd needs and no secret', () => {
    for (const name of [
      'AZURE_LOCATION',
      'AZURE_TENANT_ID',
      'AZURE_RESOURCE_GROUP',
      'AZURE_FUNCTION_NAME',
      'SERVICE_API_NAME',
      'AZURE_STORAGE_ACCOUNT_NAME',
      'AZURE_KEY_VAULT_NAME',
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
    ]) {
      expect(outputs, name).toHaveProperty(name);
    }
    for (const [file, template] of allTemplates) {
      const secureParameters = Object.entries(template.parameters ?? {})
        .filter(([, parameter]) => isSecure(parameter.type))
        .map(([name]) => name);
      for (const [name, output] of Object.entries(template.outputs ?? {})) {
        const value = JSON.stringify(output.value);
        expect(isSecure(output.type), `${file}: output ${name}`).toBe(false);
        // main.json outputs end up in the azd environment (.azure/<env>/.env); module outputs such
        // as the Key Vault secret URI only point at a secret.
        if (file === 'main.json') expect(name, `${file}: output ${name}`).not.toMatch(SECRET_NAME);
        expect(value, `${file}: output ${name}`).not.toMatch(/\blist[A-Za-z]*\(/);
        for (const secure of secureParameters) {
          expect(value, `${file}: output ${name}`).not.toContain(`parameters('${secure}')`);
        }
      }
    }
  });

  it('gives the worker the Node options the benchmarks run with (infra/node-runtime.json)', () => {
    const runtime = readJson(join(ROOT, 'infra', 'node-runtime.json')) as { nodeOptions: string };
    expect(variable(main, 'nodeRuntime')).toEqual(runtime);
    expect(JSON.stringify(main)).toContain(`"NODE_OPTIONS":"[variables('nodeRuntime').nodeOptions]"`);
  });

  it('lists every table, queue and container of shared/storage/names.ts (infra/app-resources.json)', () => {
    const appResources = variable(main, 'appResources') as { tables: string[]; queues: string[]; containers: string[]; immutableContainers: string[] };
    const sorted = (values: Iterable<string>) => [...values].sort();
    // A name added to names.ts must be added to infra/app-resources.json too.
    expect(sorted(appResources.tables), 'tables').toEqual(sorted(Object.values(TABLES)));
    expect(sorted(appResources.queues), 'queues').toEqual(sorted(Object.values(QUEUES)));
    expect(sorted([...appResources.containers, ...appResources.immutableContainers]), 'containers').toEqual(sorted(Object.values(CONTAINERS)));
    expect(sorted(appResources.immutableContainers), 'immutable containers').toEqual(sorted(IMMUTABLE_CONTAINERS));
  });

  it('keeps audit checkpoints write-once for a bounded, configurable period', () => {
    expect(parameters.auditCheckpointImmutabilityDays).toMatchObject({ type: 'int', defaultValue: 365, minValue: 1, maxValue: 146000 });
  });
});

describe('infra/main.parameters.json (azd)', () => {
  const file = readJson(join(ROOT, 'infra', 'main.parameters.json')) as { parameters: Record<string, { value: unknown }> };
  const entries = Object.entries(file.parameters);

  it('sets only parameters that main.bicep declares, and every required one', () => {
    for (const [name] of entries) expect(parameters, name).toHaveProperty(name);
    for (const [name, parameter] of Object.entries(parameters)) {
      if (!('defaultValue' in parameter)) expect(file.parameters, name).toHaveProperty(name);
    }
  });

  it('takes values from the azd environment, never literals', () => {
    for (const [name, { value }] of entries) {
      expect(value, name).toMatch(/^\$\{[A-Z0-9_]+(=[^}]*)?\}$/);
    }
    expect(file.parameters.tokenPeppers?.value).toBe('${TOKEN_PEPPERS}');
  });

  it('uses the same fallbacks as the template defaults', () => {
    for (const [name, { value }] of entries) {
      const fallback = /^\$\{[A-Z0-9_]+=([^}]*)\}$/.exec(String(value))?.[1];
      if (fallback === undefined) continue;
      expect(String(parameters[name]?.defaultValue), name).toBe(fallback);
    }
  });
});

describe('infra/deploy.bicepparam (az deployment sub create)', () => {
  it('compiles to a parameters file with every required parameter', () => {
    const compiled = readJson(join(OUT, 'deploy.parameters.json')) as { parameters: Record<string, unknown> };
    for (const [name, parameter] of Object.entries(parameters)) {
      if (!('defaultValue' in parameter)) expect(compiled.parameters, name).toHaveProperty(name);
    }
  });
});
