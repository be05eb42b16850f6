import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { AUDIT_ACTION_LIST, findAction, renderDetails, TEMPLATE_PLACEHOLDER, TEMPLATE_RESOLVERS } from '../../shared/audit/actions.js';
import { AUDIT_CATEGORIES, auditEventSchema } from '../../shared/audit/events.js';

const ROOT = join(import.meta.dirname, '..', '..');

const placeholdersOf = (template: string) => [...template.matchAll(TEMPLATE_PLACEHOLDER)].map((match) => ({ resolver: match[1], key: match[2]! }));

describe('the audit action catalogue', () => {
  it('holds valid, distinct action ids with an area and a category', () => {
    const ids = AUDIT_ACTION_LIST.map((action) => action.actionId.toLowerCase());
    expect(new Set(ids).size).toBe(ids.length);
    for (const action of AUDIT_ACTION_LIST) {
      expect(auditEventSchema.shape.actionId.safeParse(action.actionId).success, action.actionId).toBe(true);
      expect(auditEventSchema.shape.area.safeParse(action.area).success, action.actionId).toBe(true);
      expect(AUDIT_CATEGORIES, action.actionId).toContain(action.category);
      expect(findAction(action.actionId.toUpperCase())).toBe(action);
    }
  });

  it('renders every template from data keys only: each brace belongs to a placeholder naming a key', () => {
    for (const { actionId, area, details } of AUDIT_ACTION_LIST) {
      const placeholders = placeholdersOf(details);
      // Nothing but well-formed placeholders may hold braces (a typo such as `{Key` or `{ Key}` would show raw).
      expect(details.replace(TEMPLATE_PLACEHOLDER, ''), actionId).not.toMatch(/[{}]/);
      for (const { resolver } of placeholders) if (resolver) expect(TEMPLATE_RESOLVERS, actionId).toContain(resolver);

      const data = Object.fromEntries(placeholders.map(({ key }) => [key, `<${key}>`]));
      const rendered = renderDetails({ actionId, area }, data);
      expect(rendered, actionId).not.toMatch(/[{}]/);
      for (const { key } of placeholders) expect(rendered, `${actionId} renders ${key}`).toContain(`<${key}>`);
      // Only the keys: an event without them renders no placeholder text either.
      expect(renderDetails({ actionId, area }, {}), actionId).not.toMatch(/[{}]|undefined|null/);
    }
  });

  it('describes every action id that is not Azure DevOps’ own, besides the generated catalogue', () => {
    // Written by hand: the generated parts of the pages (the catalogue itself) do not count.
    const markdown = [join(ROOT, 'README.md'), ...markdownUnder(join(ROOT, 'docs'))]
      .map((file) => readFileSync(file, 'utf8').replace(/<!-- generated:([\w-]+)[^>]*-->[\s\S]*?<!-- \/generated:\1 -->/g, ''))
      .join('\n');
    // The first cell of a table row names the action (one or several ids, each in backticks).
    const documented = new Set(
      markdown
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1])),
    );
    const undocumented = AUDIT_ACTION_LIST.filter((action) => action.origin !== 'azureDevOps' && !documented.has(action.actionId));
    expect(undocumented.map((action) => action.actionId)).toEqual([]);
  });
});

function markdownUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? markdownUnder(path) : name.endsWith('.md') ? [path] : [];
  });
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourcesUnder(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Files whose object literals name an action id next to an area or category without emitting
 * anything: the one event builder, and the code that reads, filters or lists stored events.
 */
const NOT_EMITTERS: Record<string, string> = {
  'shared/audit/context.ts': 'organizationEvent, the one builder: takes area and category from the catalogue',
  'shared/audit/events.ts': 'the event schema',
  'shared/audit/query.ts': 'query filters and stored rows mapped to entries',
  'shared/audit/writer.ts': 'stored rows mapped back to events',
  'functions/audit-log-query.ts': 'query filters',
  'functions/audit-actions-list.ts': 'lists the catalogue',
};

/** Lines of object literals that name an action id together with an area, a category or a schema version. */
function handWrittenEvents(fileName: string, text: string): number[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node)) {
      const names = new Set(
        node.properties.flatMap((property) =>
          property.name && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name)) ? [property.name.text] : [],
        ),
      );
      if (names.has('actionId') && (names.has('area') || names.has('category') || names.has('schemaVersion'))) {
        lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

describe('audit producers', () => {
  it('never write an area or category by hand: both come from the catalogue', () => {
    const findings: string[] = [];
    for (const file of [...sourcesUnder(join(ROOT, 'shared')), ...sourcesUnder(join(ROOT, 'functions'))]) {
      const relative = file.slice(ROOT.length + 1).replaceAll('\\', '/');
      if (relative in NOT_EMITTERS) continue;
      findings.push(...handWrittenEvents(relative, readFileSync(file, 'utf8')).map((line) => `${relative}:${line}`));
    }
    expect(findings).toEqual([]);
  });

  it('the scan finds hand-written areas, categories and whole events, but not an event built from the catalogue', () => {
    const text = [
      "const a = organizationEvent(app, audit, org, { actionId: 'Token.PatCreateEvent', area: 'Token', data: {} });",
      "const b = { 'actionId': id, category: 'create' };",
      "const c = { id, schemaVersion: 1, actionId: 'Token.PatCreateEvent', data };",
      "const d = organizationEvent(app, audit, org, { actionId: 'Token.PatCreateEvent', data: { DisplayName: name } });",
    ].join('\n');
    expect(handWrittenEvents('sample.ts', text)).toEqual([1, 2, 3]);
  });
});
