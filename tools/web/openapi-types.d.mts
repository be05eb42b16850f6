export function apiTypesOf(document: unknown): Promise<string>;
export const API_TYPES_FILE: string;
