/**
 * ASP.NET Core route templates as the Functions host uses them: literal segments (case-insensitive),
 * `{name}`, `{name?}`, `{name:constraint}`, a parameter after a literal prefix (`@{scope}`) and a
 * trailing catch-all `{*name}`. When several templates match, literals beat parameters and parameters
 * beat catch-alls, segment by segment (a prefixed parameter ranks with constrained ones).
 */

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string; optional: boolean; constraint: string | undefined; prefix?: string }
  | { kind: 'catchAll'; name: string };

export interface RouteTemplate {
  readonly template: string;
  readonly segments: readonly Segment[];
}

const CONSTRAINTS: Record<string, RegExp> = {
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
  int: /^-?\d+$/,
  alpha: /^[a-z]+$/i,
};

export function parseRouteTemplate(template: string): RouteTemplate {
  const segments = template
    .split('/')
    .filter((part) => part.length > 0)
    .map((part): Segment => {
      const match = /^([^{}]*)\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?(\?)?\}$/.exec(part);
      if (!match) {
        if (/[{}]/.test(part)) throw new Error(`unsupported route segment '${part}' in '${template}'`);
        return { kind: 'literal', value: part.toLowerCase() };
      }
      const [, prefix = '', star, name = '', constraint, optional] = match;
      if (prefix && (star || optional)) throw new Error(`unsupported route segment '${part}' in '${template}'`);
      if (star) return { kind: 'catchAll', name };
      if (constraint && !CONSTRAINTS[constraint]) throw new Error(`unsupported route constraint '${constraint}'`);
      return { kind: 'param', name, optional: Boolean(optional), constraint, ...(prefix ? { prefix: prefix.toLowerCase() } : {}) };
    });
  segments.forEach((segment, index) => {
    if (segment.kind === 'catchAll' && index !== segments.length - 1) throw new Error(`catch-all must be last in '${template}'`);
  });
  return { template, segments };
}

/** Matches a decoded path (segments) against a template; returns route values or undefined. */
export function matchRoute(route: RouteTemplate, pathSegments: readonly string[]): Record<string, string> | undefined {
  return matchLowered(
    route,
    pathSegments,
    pathSegments.map((segment) => segment.toLowerCase()),
  );
}

/** matchRoute with the segments already lower-cased once (`lowered`), for a table tried route by route. */
function matchLowered(route: RouteTemplate, pathSegments: readonly string[], lowered: readonly string[]): Record<string, string> | undefined {
  let params: Record<string, string> | undefined;
  let index = 0;
  for (const segment of route.segments) {
    if (segment.kind === 'catchAll') {
      (params ??= {})[segment.name] = pathSegments.slice(index).join('/');
      return params;
    }
    const value = pathSegments[index];
    if (value === undefined) {
      if (segment.kind === 'param' && segment.optional) continue;
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (lowered[index] !== segment.value) return undefined;
    } else {
      let captured = value;
      if (segment.prefix) {
        if (value.length <= segment.prefix.length || !(lowered[index] as string).startsWith(segment.prefix)) return undefined;
        captured = value.slice(segment.prefix.length);
      }
      const constraint = segment.constraint ? CONSTRAINTS[segment.constraint] : undefined;
      if (constraint && !constraint.test(captured)) return undefined;
      (params ??= {})[segment.name] = captured;
    }
    index += 1;
  }
  return index === pathSegments.length ? (params ?? {}) : undefined;
}

/** How many path segments a template can match: [fewest, most] (a catch-all takes any number). */
function segmentCounts(route: RouteTemplate): [number, number] {
  const fewest = route.segments.filter((segment) => segment.kind === 'literal' || (segment.kind === 'param' && !segment.optional)).length;
  const most = route.segments.some((segment) => segment.kind === 'catchAll') ? Number.POSITIVE_INFINITY : route.segments.length;
  return [fewest, most];
}

/** Higher sorts first: compare segment by segment, literal > constrained param > param > catch-all. */
function rank(segment: Segment | undefined): number {
  if (!segment) return 0;
  if (segment.kind === 'literal') return 4;
  if (segment.kind === 'param') return segment.constraint || segment.prefix ? 3 : 2;
  return 1;
}

export function compareRoutePrecedence(a: RouteTemplate, b: RouteTemplate): number {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i += 1) {
    const difference = rank(b.segments[i]) - rank(a.segments[i]);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Splits a URL path into decoded segments; undefined when the encoding is malformed. */
export function splitPath(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((part) => part.length > 0)
      .map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

export interface RouteTable<T> {
  /** The best match for the path among entries accepting the method, plus the methods the path allows. */
  find(method: string, pathSegments: readonly string[]): { entry: T; params: Record<string, string> } | undefined;
  allowedMethods(pathSegments: readonly string[]): string[];
}

export function createRouteTable<T>(entries: readonly { route: string; methods: readonly string[]; value: T }[]): RouteTable<T> {
  const compiled = entries
    .map((entry) => {
      const template = parseRouteTemplate(entry.route);
      const [fewest, most] = segmentCounts(template);
      return { ...entry, template, fewest, most, methods: entry.methods.map((m) => m.toUpperCase()) };
    })
    .sort((a, b) => compareRoutePrecedence(a.template, b.template));
  // Every request looks its route up: per method, in precedence order, so only candidates are tried.
  const byMethod = new Map<string, typeof compiled>();
  for (const entry of compiled) {
    for (const method of entry.methods) {
      const entries = byMethod.get(method) ?? [];
      entries.push(entry);
      byMethod.set(method, entries);
    }
  }
  return {
    find(method, pathSegments) {
      const candidates = byMethod.get(method.toUpperCase());
      if (!candidates) return undefined;
      const count = pathSegments.length;
      const lowered = pathSegments.map((segment) => segment.toLowerCase());
      for (const entry of candidates) {
        if (count < entry.fewest || count > entry.most) continue;
        const params = matchLowered(entry.template, pathSegments, lowered);
        if (params) return { entry: entry.value, params };
      }
      return undefined;
    },
    allowedMethods(pathSegments) {
      const methods = new Set<string>();
      for (const entry of compiled) {
        if (entry.template.segments.some((segment) => segment.kind === 'catchAll')) continue;
        if (matchRoute(entry.template, pathSegments)) entry.methods.forEach((method) => methods.add(method));
      }
      return [...methods].sort();
    },
  };
}
