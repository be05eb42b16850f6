// @ts-check
// An ESLint rule that keeps the areas of shared/ (shared/<area>/…) depending in one direction: an
// area imports only areas in lower layers, so no two areas can depend on each other, directly or
// round a cycle. The layers are the rule's options (see eslint.config.js, which documents them).
//
// - Type-only imports are not counted: they are erased at compile time, and types such as the
//   Organization are the vocabulary every area speaks.
// - Modules directly in shared/ (configuration, clock, logging, the app context) belong to no area.
// - Composition modules (`composition` option) wire areas together: they may import any area and no
//   area may import them at run time.

import path from 'node:path';

/**
 * @typedef {{ layers: string[][]; composition?: string[] }} Options
 * @typedef {import('estree').Node} Node
 */

const toPosix = (/** @type {string} */ file) => file.split(path.sep).join('/');

/** @type {import('eslint').Rule.RuleModule} */
export const areaLayers = {
  meta: {
    type: 'problem',
    docs: { description: 'Areas of shared/ import only areas in lower layers, never each other both ways' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
          composition: { type: 'array', items: { type: 'string' } },
        },
        required: ['layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      upward:
        'shared/{{from}} may not import shared/{{to}}: areas import only lower layers, and {{to}} is {{where}} {{from}}. ' +
        'Move the cross-area step to the function that orchestrates it, or pass it in.',
      composition: '{{target}} composes the areas: import it from functions/ or local/, not from shared/{{from}}.',
      unlisted: 'shared/{{area}} is in no layer of the area-layers rule: add it to the layers in eslint.config.js.',
    },
  },

  create(context) {
    const options = /** @type {Options} */ (context.options[0]);
    const layerOf = new Map(options.layers.flatMap((areas, layer) => areas.map((area) => /** @type {const} */ ([area, layer]))));
    const composition = new Set(options.composition ?? []);
    /** The area of a path relative to the project, or 'composition', or undefined outside every area. */
    const areaOf = (/** @type {string} */ file) => {
      if (composition.has(file)) return 'composition';
      return /^shared\/([^/]+)\/.+/.exec(file)?.[1];
    };

    const file = toPosix(path.relative(context.cwd, context.filename));
    const from = areaOf(file);
    if (from === undefined || from === 'composition') return {};

    /** @param {Node} node @param {unknown} source */
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), source)).replace(/\.js$/, '.ts');
      const to = areaOf(target);
      if (to === undefined || to === from) return;
      if (to === 'composition') {
        context.report({ node, messageId: 'composition', data: { target, from } });
        return;
      }
      const fromLayer = layerOf.get(from);
      const toLayer = layerOf.get(to);
      if (fromLayer === undefined || toLayer === undefined) return; // reported once per file (Program)
      if (toLayer < fromLayer) return;
      context.report({ node, messageId: 'upward', data: { from, to, where: toLayer === fromLayer ? 'in the same layer as' : 'above' } });
    };

    /** Whether a declaration or specifier is `import type` / `export type` (TypeScript's AST marks them). */
    const typeOnly = (/** @type {object} */ node) => {
      const { importKind, exportKind } = /** @type {{ importKind?: string; exportKind?: string }} */ (node);
      return importKind === 'type' || exportKind === 'type';
    };

    return {
      Program(node) {
        if (!layerOf.has(from)) context.report({ node, messageId: 'unlisted', data: { area: from } });
      },
      ImportDeclaration(node) {
        const specifiers = node.specifiers;
        if (typeOnly(node) || (specifiers.length > 0 && specifiers.every(typeOnly))) return;
        check(node, node.source.value);
      },
      ExportNamedDeclaration(node) {
        if (!node.source) return;
        const specifiers = node.specifiers;
        if (typeOnly(node) || (specifiers.length > 0 && specifiers.every(typeOnly))) return;
        check(node, node.source.value);
      },
      ExportAllDeclaration(node) {
        if (!typeOnly(node)) check(node, node.source.value);
      },
      ImportExpression(node) {
        if (node.source.type === 'Literal') check(node, node.source.value);
      },
    };
  },
};

export default { rules: { 'area-layers': areaLayers } };
