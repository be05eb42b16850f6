import { z } from 'zod';
import { FILE_SETTINGS, PLATFORM_SETTINGS, REQUIRED_APP_SETTINGS, SETTING_GROUPS } from '../../shared/config.js';
import { LOCAL_RUNTIME_SETTINGS } from '../../local/settings.js';
import { code, table } from './regions.js';

/** The configuration reference (docs/configuration.md), from the settings' declarations in shared/config.ts. */

interface SettingFacts {
  readonly name: string;
  readonly required: string;
  readonly fallback: string;
  readonly values: string;
  readonly meaning: string;
}

type JsonSchema = {
  description?: string;
  requirement?: string;
  default?: unknown;
  type?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
};

const number = (value: number): string => value.toLocaleString('en-US');

function valuesOf(schema: JsonSchema): string {
  if (schema.anyOf) {
    const kinds = schema.anyOf.map(valuesOf);
    return kinds.map((kind) => (kind === code('') ? 'empty' : kind)).join(' or ');
  }
  if (schema.enum) return schema.enum.map((value) => code(String(value))).join(', ');
  if (schema.const !== undefined) return code(typeof schema.const === 'string' ? schema.const : JSON.stringify(schema.const));
  if (schema.type === 'integer' || schema.type === 'number') {
    return schema.minimum !== undefined && schema.maximum !== undefined ? `${number(schema.minimum)}–${number(schema.maximum)}` : 'a number';
  }
  if (schema.format === 'uri') return 'URL';
  if (schema.format === 'uuid') return 'GUID';
  return '';
}

function fallbackOf(schema: JsonSchema): string {
  if (schema.default === undefined) return '—';
  if (typeof schema.default === 'number') return number(schema.default);
  if (schema.default === '') return 'empty';
  return code(typeof schema.default === 'string' ? schema.default : JSON.stringify(schema.default));
}

export function settingFacts(name: string, setting: z.ZodType): SettingFacts {
  const schema = z.toJSONSchema(setting, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  if (!schema.description) throw new Error(`setting ${name} has no description (shared/config.ts)`);
  const required = schema.requirement ?? (setting.safeParse(undefined).success ? 'no' : 'yes');
  return { name, required, fallback: fallbackOf(schema), values: valuesOf(schema), meaning: schema.description };
}

/** Every setting the schema declares, by group. */
export function settingGroups(): { title: string; settings: SettingFacts[] }[] {
  return SETTING_GROUPS.map((group) => ({
    title: group.title,
    settings: Object.entries(group.settings as Record<string, z.ZodType>).map(([name, setting]) => settingFacts(name, setting)),
  }));
}

/** Every setting name the reference documents. */
export function documentedSettingNames(): string[] {
  return [
    ...settingGroups().flatMap((group) => group.settings.map((setting) => setting.name)),
    ...FILE_SETTINGS.map((name) => `${name}_FILE`),
    ...Object.keys(PLATFORM_SETTINGS),
    ...Object.keys(LOCAL_RUNTIME_SETTINGS),
  ];
}

export function renderSettingsReference(): string {
  const sections = settingGroups().map(({ title, settings }) =>
    [
      `### ${title}`,
      '',
      table(
        ['setting', 'required', 'default', 'values', 'meaning'],
        settings.map((setting) => [code(setting.name), setting.required, setting.fallback, setting.values, setting.meaning]),
      ),
    ].join('\n'),
  );
  const beside = table(
    ['setting', 'meaning'],
    [
      ...FILE_SETTINGS.map((name) => [
        code(`${name}_FILE`),
        `Path of a file holding ${code(name)}, read when ${code(name)} itself is unset (local development: \`local.settings.json\` points at \`.local/\`); an unreadable file is reported as ${code(`${name}_FILE: cannot read file …`)}.`,
      ]),
      ...Object.entries(PLATFORM_SETTINGS).map(([name, meaning]) => [code(name), meaning]),
      ...Object.entries(LOCAL_RUNTIME_SETTINGS).map(([name, meaning]) => [code(name), meaning]),
    ],
  );
  const required = `An Azure deployment provides (\`REQUIRED_APP_SETTINGS\`, checked against the Bicep templates by \`npm run test:infra\`): ${REQUIRED_APP_SETTINGS.map(code).join(', ')}.`;
  return `${[...sections, `### Read beside the schema\n\n${beside}`, required].join('\n\n')}\n`;
}
