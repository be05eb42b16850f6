import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTAINERS, TABLES } from '../../shared/storage/names.js';
import { generatedParts, ROOT } from '../../tools/docs/generate.js';
import { documentedSettingNames } from '../../tools/docs/settings.js';

/** The documentation is checked like code: generated parts current, settings and tables covered, links whole. */

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

function filesUnder(directory: string, extension: string): string[] {
  return readdirSync(join(ROOT, directory), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

const PAGES = ['README.md', 'SECURITY.md', ...filesUnder('docs', '.md')];

describe('generated documentation', () => {
  it.each(generatedParts().map((entry) => [`${entry.part.file} (${entry.part.name})`, entry] as const))(
    '%s is what its source renders (npm run docs rewrites it)',
    (_, { part, committed, expected }) => {
      expect(committed === expected, `${part.file}: the '${part.name}' part is out of date with ${part.source}: run npm run docs`).toBe(true);
    },
  );
});

describe('configuration reference', () => {
  it('documents every setting the code reads, once', () => {
    const names = documentedSettingNames();
    expect(
      names.filter((name, index) => names.indexOf(name) !== index),
      'settings listed twice',
    ).toEqual([]);
    const readByCode = new Set<string>();
    for (const file of ['functions', 'shared', 'local'].flatMap((directory) => filesUnder(directory, '.ts'))) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      for (const pattern of [/\b(?:process\.)?env\??\.([A-Z][A-Za-z0-9_]*)/g, /\benv\[\s*['"]([A-Z][A-Za-z0-9_]*)['"]\s*\]/g, /['"]%([A-Z][A-Z0-9_]*)%['"]/g]) {
        for (const match of source.matchAll(pattern)) readByCode.add(match[1] ?? '');
      }
    }
    expect(readByCode.size).toBeGreaterThan(10);
    expect([...readByCode].filter((name) => !names.includes(name)).sort()).toEqual([]);
  });
});

describe('storage design', () => {
  it('describes every table and blob container', () => {
    const design = read('docs/architecture.md');
    const missing = [...Object.values(TABLES), ...Object.values(CONTAINERS)].filter(
      (name) => !design.includes(`| \`${name}\` |`) && !design.includes(`| blob \`${name}\` |`),
    );
    expect(missing).toEqual([]);
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const slug = (heading[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

describe('documentation pages', () => {
  it.each(PAGES)('%s: every relative link reaches an existing file and heading', (page) => {
    const text = read(page).replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path = '', anchor] = target.split('#');
      const file = path ? join(dirname(page), path) : page;
      if (!existsSync(join(ROOT, file))) {
        broken.push(`${target} (no ${file})`);
        continue;
      }
      if (anchor && file.endsWith('.md') && !anchorsOf(read(file)).has(anchor)) broken.push(`${target} (no heading #${anchor} in ${file})`);
    }
    expect(broken).toEqual([]);
  });

  it('the README is an entrance: at most 200 lines, linking every page of docs/', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    for (const page of filesUnder('docs', '.md')) expect(readme, page).toContain(`(${page})`);
  });

  it('CI runs the test command the README names', () => {
    const quickStart = /## Quick start\s+```sh\n([\s\S]*?)```/.exec(read('README.md'))?.[1] ?? '';
    const testCommand = quickStart
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .find((line) => /^npm (run )?test\b/.test(line));
    expect(testCommand).toBe('npm test');
    const ci = read('.ci/run')
      .split('\n')
      .map((line) => line.trim());
    expect(ci).toContain(testCommand);
  });
});
