import type { ESLint, Rule } from 'eslint';

export const areaLayers: Rule.RuleModule;
declare const plugin: ESLint.Plugin;
export default plugin;
